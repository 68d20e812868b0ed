"""Loupe on Ray Serve: Ray places model replicas (one model each, restarted when they die), and a small
Loupe balancer in front holds each WebSocket session on one replica for its whole life."""
