"""What the BentoML services in `bentos/` do, as plain classes that tests can drive directly."""
