"""Analytics: the funnel report, its chart, and the stage graphs of a pipeline."""
