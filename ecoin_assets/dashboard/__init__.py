"""The live dashboard: its data (`snapshot`, one read-only visit per refresh) and its sections
(`sections/`: a plain data function and a Panel view each), which the Panel app
(`panel_app/app.py`) composes."""
