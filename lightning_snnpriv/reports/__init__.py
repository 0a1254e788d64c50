"""Reports of one run's audit: ROC figures, the printed table, TensorBoard summaries."""
