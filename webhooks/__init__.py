"""The webhook receiver: a Flask app with one blueprint per vendor."""
