-- ensureState
CREATE SCHEMA IF NOT EXISTS `outflow-test`.`outflow_state` OPTIONS (location = 'EU');

-- ensureState
CREATE TABLE IF NOT EXISTS `outflow-test`.`outflow_state`.`customers_sync_meta` (fingerprint STRING, updated_at TIMESTAMP);

-- readMeta
SELECT fingerprint FROM `outflow-test`.`outflow_state`.`customers_sync_meta` LIMIT 1;

-- writeMeta(null)
CREATE OR REPLACE TABLE `outflow-test`.`outflow_state`.`customers_sync_meta` AS SELECT CAST(NULL AS STRING) AS fingerprint, CURRENT_TIMESTAMP() AS updated_at;

-- diff (full)
CREATE OR REPLACE TABLE `outflow-test`.`outflow_state`.`customers_sync_pending`
CLUSTER BY _outflow_part
OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 7 DAY))
AS WITH m AS (SELECT model.`cust_id` AS `customer_id`, model.`region` AS `region`, model.`day` AS `day`, model.`int_max` AS `int_max`, model.`int_min` AS `int_min`, model.`int_null` AS `int_null`, model.`num` AS `num`, model.`bignum` AS `bignum`, model.`float_val` AS `score`, model.`ts` AS `ts`, model.`ts_before_epoch` AS `ts_before_epoch`, model.`ts_null` AS `ts_null`, model.`date_before_epoch` AS `date_before_epoch`, model.`datetime_val` AS `datetime_val`, model.`time_val` AS `time_val`, model.`bool_val` AS `bool_val`, model.`bytes_val` AS `bytes_val`, model.`json_val` AS `json_val`, model.`int_list` AS `int_list`, model.`record_val` AS `record_val`, model.`empty_text` AS `empty_text`, model.`null_text` AS `null_text`, model.`unicode_text` AS `unicode_text`, model.`geo` AS `geo`, model.`tenure` AS `tenure`, FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(model.`cust_id`, model.`region`, model.`day`, model.`int_max`, model.`int_min`, model.`int_null`, model.`num`, model.`bignum`, model.`float_val`, model.`ts`, model.`ts_before_epoch`, model.`ts_null`, model.`date_before_epoch`, model.`datetime_val`, model.`time_val`, model.`bool_val`, model.`bytes_val`, model.`json_val`, model.`int_list`, model.`record_val`, model.`empty_text`, model.`null_text`, model.`unicode_text`, model.`geo`, model.`tenure`))) AS _outflow_h FROM `outflow-test`.`warehouse`.`customers` AS model),
j AS (SELECT m.`customer_id`, m.`region`, m.`day`, m.`int_max`, m.`int_min`, m.`int_null`, m.`num`, m.`bignum`, m.`score`, m.`ts`, m.`ts_before_epoch`, m.`ts_null`, m.`date_before_epoch`, m.`datetime_val`, m.`time_val`, m.`bool_val`, m.`bytes_val`, m.`json_val`, m.`int_list`, m.`record_val`, m.`empty_text`, m.`null_text`, m.`unicode_text`, m.`geo`, m.`tenure`, m._outflow_h, CAST(NULL AS INT64) AS _outflow_sh, 'a' AS _outflow_kind FROM m)
SELECT `customer_id`, `region`, `day`, `int_max`, `int_min`, `int_null`, `num`, `bignum`, `score`, `ts`, `ts_before_epoch`, `ts_null`, `date_before_epoch`, `datetime_val`, `time_val`, `bool_val`, `bytes_val`, `json_val`, `int_list`, `record_val`, `empty_text`, `null_text`, `unicode_text`, `geo`, `tenure`, _outflow_h, _outflow_kind, _outflow_part, ROW_NUMBER() OVER (PARTITION BY _outflow_part) AS _outflow_pn
    FROM (SELECT `customer_id`, `region`, `day`, `int_max`, `int_min`, `int_null`, `num`, `bignum`, `score`, `ts`, `ts_before_epoch`, `ts_null`, `date_before_epoch`, `datetime_val`, `time_val`, `bool_val`, `bytes_val`, `json_val`, `int_list`, `record_val`, `empty_text`, `null_text`, `unicode_text`, `geo`, `tenure`, _outflow_h, _outflow_kind, ABS(MOD(FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(`customer_id`, `region`, `day`))), 8)) AS _outflow_part FROM j WHERE _outflow_kind <> 'u') AS x;

-- diff (full)
SELECT (SELECT COUNT(*) FROM `outflow-test`.`warehouse`.`customers` AS model) AS read, 0 AS snapshot_rows;

-- diff (incremental)
CREATE OR REPLACE TABLE `outflow-test`.`outflow_state`.`customers_sync_pending`
CLUSTER BY _outflow_part
OPTIONS (expiration_timestamp = TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 7 DAY))
AS WITH m AS (SELECT model.`cust_id` AS `customer_id`, model.`region` AS `region`, model.`day` AS `day`, model.`int_max` AS `int_max`, model.`int_min` AS `int_min`, model.`int_null` AS `int_null`, model.`num` AS `num`, model.`bignum` AS `bignum`, model.`float_val` AS `score`, model.`ts` AS `ts`, model.`ts_before_epoch` AS `ts_before_epoch`, model.`ts_null` AS `ts_null`, model.`date_before_epoch` AS `date_before_epoch`, model.`datetime_val` AS `datetime_val`, model.`time_val` AS `time_val`, model.`bool_val` AS `bool_val`, model.`bytes_val` AS `bytes_val`, model.`json_val` AS `json_val`, model.`int_list` AS `int_list`, model.`record_val` AS `record_val`, model.`empty_text` AS `empty_text`, model.`null_text` AS `null_text`, model.`unicode_text` AS `unicode_text`, model.`geo` AS `geo`, model.`tenure` AS `tenure`, FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(model.`cust_id`, model.`region`, model.`day`, model.`int_max`, model.`int_min`, model.`int_null`, model.`num`, model.`bignum`, model.`float_val`, model.`ts`, model.`ts_before_epoch`, model.`ts_null`, model.`date_before_epoch`, model.`datetime_val`, model.`time_val`, model.`bool_val`, model.`bytes_val`, model.`json_val`, model.`int_list`, model.`record_val`, model.`empty_text`, model.`null_text`, model.`unicode_text`, model.`geo`, model.`tenure`))) AS _outflow_h FROM `outflow-test`.`warehouse`.`customers` AS model),
j AS (SELECT COALESCE(m.`customer_id`, s.`customer_id`) AS `customer_id`, COALESCE(m.`region`, s.`region`) AS `region`, COALESCE(m.`day`, s.`day`) AS `day`, m.`int_max`, m.`int_min`, m.`int_null`, m.`num`, m.`bignum`, m.`score`, m.`ts`, m.`ts_before_epoch`, m.`ts_null`, m.`date_before_epoch`, m.`datetime_val`, m.`time_val`, m.`bool_val`, m.`bytes_val`, m.`json_val`, m.`int_list`, m.`record_val`, m.`empty_text`, m.`null_text`, m.`unicode_text`, m.`geo`, m.`tenure`, m._outflow_h, s._outflow_h AS _outflow_sh, CASE WHEN m._outflow_h IS NULL THEN 'r' WHEN s._outflow_h IS NULL THEN 'a' WHEN m._outflow_h <> s._outflow_h THEN 'c' ELSE 'u' END AS _outflow_kind
    FROM m FULL OUTER JOIN `outflow-test`.`outflow_state`.`customers_sync_snapshot` AS s ON m.`customer_id` = s.`customer_id` AND m.`region` = s.`region` AND m.`day` = s.`day`)
SELECT `customer_id`, `region`, `day`, `int_max`, `int_min`, `int_null`, `num`, `bignum`, `score`, `ts`, `ts_before_epoch`, `ts_null`, `date_before_epoch`, `datetime_val`, `time_val`, `bool_val`, `bytes_val`, `json_val`, `int_list`, `record_val`, `empty_text`, `null_text`, `unicode_text`, `geo`, `tenure`, _outflow_h, _outflow_kind, _outflow_part, ROW_NUMBER() OVER (PARTITION BY _outflow_part) AS _outflow_pn
    FROM (SELECT `customer_id`, `region`, `day`, `int_max`, `int_min`, `int_null`, `num`, `bignum`, `score`, `ts`, `ts_before_epoch`, `ts_null`, `date_before_epoch`, `datetime_val`, `time_val`, `bool_val`, `bytes_val`, `json_val`, `int_list`, `record_val`, `empty_text`, `null_text`, `unicode_text`, `geo`, `tenure`, _outflow_h, _outflow_kind, ABS(MOD(FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(`customer_id`, `region`, `day`))), 8)) AS _outflow_part FROM j WHERE _outflow_kind <> 'u') AS x;

-- diff (incremental)
SELECT (SELECT COUNT(*) FROM `outflow-test`.`warehouse`.`customers` AS model) AS read, (SELECT COUNT(*) FROM `outflow-test`.`outflow_state`.`customers_sync_snapshot`) AS snapshot_rows;

-- pendingCounts
SELECT _outflow_part AS part, _outflow_kind AS kind, COUNT(*) AS n FROM `outflow-test`.`outflow_state`.`customers_sync_pending` GROUP BY _outflow_part, _outflow_kind;

-- pendingKeyProblems
SELECT
      (SELECT COUNT(*) FROM `outflow-test`.`outflow_state`.`customers_sync_pending` WHERE _outflow_kind <> 'r' AND (`customer_id` IS NULL OR `region` IS NULL OR `day` IS NULL)) AS null_keys,
      (SELECT COUNT(*) FROM (SELECT `customer_id`, `region`, `day` FROM `outflow-test`.`outflow_state`.`customers_sync_pending` WHERE _outflow_kind <> 'r' GROUP BY `customer_id`, `region`, `day` HAVING COUNT(*) > 1) AS d) AS duplicate_keys;

-- duplicateKeys
SELECT TO_JSON_STRING(STRUCT(model.`cust_id`, model.`region`, model.`day`)) AS key_text, COUNT(*) AS n FROM `outflow-test`.`warehouse`.`customers` AS model GROUP BY model.`cust_id`, model.`region`, model.`day` HAVING COUNT(*) > 1 ORDER BY n DESC LIMIT 5;

-- resetSnapshot
CREATE OR REPLACE TABLE `outflow-test`.`outflow_state`.`customers_sync_snapshot` AS SELECT `customer_id`, `region`, `day`, _outflow_h FROM `outflow-test`.`outflow_state`.`customers_sync_pending` LIMIT 0;

-- readPartition(2, mirror) params: [2]
SELECT _outflow_pn, _outflow_kind, `customer_id`, `region`, `day`, `int_max`, `int_min`, `int_null`, `num`, `bignum`, `score`, `ts`, `ts_before_epoch`, `ts_null`, `date_before_epoch`, `datetime_val`, `time_val`, `bool_val`, `bytes_val`, `json_val`, `int_list`, `record_val`, `empty_text`, `null_text`, `unicode_text`, `geo`, `tenure` FROM `outflow-test`.`outflow_state`.`customers_sync_pending` WHERE _outflow_part = @p1 AND _outflow_kind IN ('a', 'c', 'r');

-- advance(2, upsert) params: [2,[4,9],[]]
MERGE INTO `outflow-test`.`outflow_state`.`customers_sync_snapshot` AS s
USING (SELECT `customer_id`, `region`, `day`, _outflow_h, _outflow_kind FROM `outflow-test`.`outflow_state`.`customers_sync_pending` WHERE _outflow_part = @p1 AND ((_outflow_kind IN ('a', 'c') AND _outflow_pn NOT IN UNNEST(@p2)) OR (_outflow_kind = 'r' AND _outflow_pn NOT IN UNNEST(@p3)))) AS p
ON s.`customer_id` = p.`customer_id` AND s.`region` = p.`region` AND s.`day` = p.`day`
WHEN MATCHED AND p._outflow_kind = 'r' THEN DELETE
WHEN MATCHED THEN UPDATE SET _outflow_h = p._outflow_h
WHEN NOT MATCHED AND p._outflow_kind <> 'r' THEN INSERT (`customer_id`, `region`, `day`, _outflow_h) VALUES (p.`customer_id`, p.`region`, p.`day`, p._outflow_h);

-- advance(0, insert) params: [0,[],[]]
MERGE INTO `outflow-test`.`outflow_state`.`customers_sync_snapshot` AS s
USING (SELECT `customer_id`, `region`, `day`, _outflow_h, _outflow_kind FROM `outflow-test`.`outflow_state`.`customers_sync_pending` WHERE _outflow_part = @p1 AND ((_outflow_kind IN ('a') AND _outflow_pn NOT IN UNNEST(@p2)))) AS p
ON s.`customer_id` = p.`customer_id` AND s.`region` = p.`region` AND s.`day` = p.`day`
WHEN MATCHED AND p._outflow_kind = 'r' THEN DELETE
WHEN MATCHED THEN UPDATE SET _outflow_h = p._outflow_h
WHEN NOT MATCHED AND p._outflow_kind <> 'r' THEN INSERT (`customer_id`, `region`, `day`, _outflow_h) VALUES (p.`customer_id`, p.`region`, p.`day`, p._outflow_h);

-- writeMeta params: ["fp"]
CREATE OR REPLACE TABLE `outflow-test`.`outflow_state`.`customers_sync_meta` AS SELECT @p1 AS fingerprint, CURRENT_TIMESTAMP() AS updated_at;

-- dropPending
DROP TABLE IF EXISTS `outflow-test`.`outflow_state`.`customers_sync_pending`;
