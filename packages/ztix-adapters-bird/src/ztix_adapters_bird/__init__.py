"""ztix BIRD 2 route servers: config rendering, safe apply over SSH, session status."""
