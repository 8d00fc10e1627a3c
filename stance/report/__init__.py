"""The stance summary report: its data, rendered as HTML or Markdown."""
