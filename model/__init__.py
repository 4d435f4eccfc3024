"""CA2-SIS networks, losses, data and training (Fontanini et al., IEEE Access 2024)."""
