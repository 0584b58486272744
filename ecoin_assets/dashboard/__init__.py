"""The live dashboard's data: plain functions the Panel app (`panel_app/app.py`) calls."""
