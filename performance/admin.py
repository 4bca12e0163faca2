# Admin modules arrive with their models.
