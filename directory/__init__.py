"""Professional profiles and the search over them."""
