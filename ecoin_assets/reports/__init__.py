"""Report notebooks (`notebooks/`): parameters, what their cells show, rendering with papermill
to .ipynb and HTML under `$ECOIN_HOME/reports`, and the Dagster assets that refresh them."""
