"""Human labels: label files, what to label next, the terminal annotator,
Label Studio and Prodigy interchange, label quality checks."""
