"""Copying other tracking stores into loopml (`loopml import …`)."""
