"""The gpio8 input controller: its register map, its model, its `sim` commands."""
