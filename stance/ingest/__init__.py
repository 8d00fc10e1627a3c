"""Inputs → turns: pages and structured files, quotes, duplicates, languages,
argument chains."""
