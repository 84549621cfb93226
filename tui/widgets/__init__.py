"""Widgets of the Textual client, one module per dashboard area; ``view_model`` holds their pure logic."""
