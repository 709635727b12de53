"""What points buy: the reward catalog, stock, redemptions, codes and tier perks."""
