"""Download buttons for a chart (PNG when a local Chromium can render it, else HTML) and its table."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evalkit.review import dashboards as dash


def export_row(fig, table: pd.DataFrame, name: str) -> None:
    """CSV of the table, HTML of the chart, and a PNG on request (kaleido + Chromium)."""
    c = st.columns([1, 1, 1, 3])
    c[0].download_button("CSV", dash.frame_csv(table), file_name=f"{name}.csv", mime="text/csv",
                         key=f"csv-{name}", icon=":material/download:", on_click="ignore")
    c[1].download_button("HTML", dash.figure_html(fig), file_name=f"{name}.html", mime="text/html",
                         key=f"html-{name}", icon=":material/download:", on_click="ignore")
    png_key = f"png-bytes-{name}"
    if st.session_state.get(png_key):
        c[2].download_button("PNG", st.session_state[png_key], file_name=f"{name}.png", mime="image/png",
                             key=f"png-{name}", icon=":material/download:", on_click="ignore")
    elif c[2].button("Make PNG", key=f"mkpng-{name}", help="Renders the chart with the local Chromium (a few seconds)"):
        with st.spinner("Rendering PNG…"):
            png = dash.figure_png(fig)
        if png:
            st.session_state[png_key] = png
            st.rerun()
        c[3].warning("PNG export needs Chromium on this machine; download HTML or CSV instead.")
