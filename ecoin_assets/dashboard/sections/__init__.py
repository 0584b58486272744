"""The dashboard's sections, one module each: a plain data function (a snapshot or the database
in, frames, dicts or text out; testable without Panel) and a view that builds the section's
Panel components and updates them from a snapshot. `panel_app/app.py` composes them."""
