"""BentoML services of ecoin: `forecast` (port 3001 in the demo) and `sentiment` (3002)."""
