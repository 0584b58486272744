"""Social signals and time series per topic and coin, over periods of a chosen interval."""
