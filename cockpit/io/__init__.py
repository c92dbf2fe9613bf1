"""Input and output shared by sources and actions: AWS clients, HTTP, the backends that switch."""
