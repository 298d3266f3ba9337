"""A workspace's asset library: the images and music its members upload for their renders."""
