"""The console's pages; ``app.py`` imports them and routes to their ``render()``."""
