"""Judge calibration: plant known errors in notes and measure what a judge catches.

- :func:`plant_error` (``plant.py``): one realistic error of a given kind in a copy of a note
- :func:`measure` (``measure.py``): recall per kind and false-flag rates for any judge
"""

from .measure import caught, measure
from .plant import KINDS, PlantedError, plant_error

__all__ = ["KINDS", "PlantedError", "caught", "measure", "plant_error"]
