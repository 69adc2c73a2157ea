"""Video in and out: frames from files (images, folders, videos), annotated frames and clips."""
