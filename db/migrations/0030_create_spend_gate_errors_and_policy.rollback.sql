-- Removes only what 0030 added.
CALL senate.release('0030');
DELETE FROM senate.error_codes WHERE sqlstate IN
    ('S3001', 'S3002', 'S3003', 'S3004', 'S3005', 'S3006', 'S3007', 'S3008');
