-- The incidents changed lately, by `updated_at`: what each server's backstop polls every
-- few seconds (issue 17.2) and what a reload replays. Without an index each poll read the
-- whole table.
create index incidents_updated_at on incidents (updated_at);
