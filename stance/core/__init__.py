"""What every part shares: errors, text normalisation, files and safe writes,
the Turn, the debate schema, progress bars."""
