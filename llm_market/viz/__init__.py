"""Views: the app's charts and the static run report."""
