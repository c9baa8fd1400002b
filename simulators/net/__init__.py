"""The network side of simulated NICs: what their frames go to and come from."""
