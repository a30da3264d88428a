-- Journal retention (`Store::prune_operations`): succeeded operations, oldest finished first.
-- Partial, so that failed and running operations (never pruned) cost it nothing.
CREATE INDEX operations_prunable_idx ON operations (finished) WHERE state = 'succeeded';
