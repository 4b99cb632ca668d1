"""ztix PeeringDB: the network registry over PeeringDB's REST API, and sign-in with PeeringDB."""
