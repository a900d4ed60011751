"""WsgiDAV adapter: the provider, its resources, SQL lock storage and middleware."""
