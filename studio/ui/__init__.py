"""The Qt editor: views that observe the document model and push commands to it."""
