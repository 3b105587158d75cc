-- A member refused for a full slot is one unit of unmet demand, however often they retry:
-- keep the first refusal per member and slot (facility, date, slot), and refuse the rest.
DELETE FROM demand_events
 WHERE kind = 'refused_full'
   AND id NOT IN (SELECT min(id) FROM demand_events WHERE kind = 'refused_full'
                  GROUP BY userid, facility, date, slot);
CREATE UNIQUE INDEX demand_refused_once ON demand_events (userid, facility, date, slot) WHERE kind = 'refused_full';
