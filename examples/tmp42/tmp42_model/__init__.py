"""The Acme TMP42 temperature sensor's model, for the tmp42 driver's tests."""
