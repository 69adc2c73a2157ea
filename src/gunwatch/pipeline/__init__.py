"""The live orchestration: camera loops, the shared detector, the watch service and its command."""
