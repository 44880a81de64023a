-- gymctl store, schema version 3: an athlete's latest readiness score found by the index.
-- The athletes list takes each athlete's newest score (by day, then time); with the index
-- on (athlete_id, day) alone, SQLite sorted all of that day's scores (one per check-in)
-- for every athlete at every request.

DROP INDEX readiness_scores_athlete;
CREATE INDEX readiness_scores_athlete ON readiness_scores (athlete_id, day, ts);
