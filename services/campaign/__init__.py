"""Why points are earned: earning and engagement rules, recognition, missions, segments, experiments."""
