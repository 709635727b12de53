-- The product category of each stored purchase line (parallel to skus; '' for a line without
-- one), so a return's PurchaseRecorded names the categories of what it returned (by line: the
-- returned SKUs' lines; of an amount: the purchase's lines). NULL for purchases stored before
-- this migration, whose returns name no categories.
ALTER TABLE purchase_lines ADD COLUMN categories text[];
