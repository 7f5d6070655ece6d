-- A table of every type that a Parquet export maps (CONTRACT.md, Part 3), with NULLs, extremes, NaN and
-- infinities, numerics at 38 digits, dates and timestamps before 1970 and after 2038, empty and long
-- strings, non-ASCII text; read by tests/integration/parquet_readers.cpp and tests/e2e/formats_parquet.py.
CREATE TYPE mood AS ENUM ('sad', 'happy', 'żółć');
CREATE TABLE every_type (
    id bigint PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision, b boolean,
    d38 numeric(38,10), d9 numeric(9,2), d18 numeric(18,4), d20 numeric(20,0), n numeric, t text,
    vc varchar(10), ch char(4), e mood, dt date, ts timestamp, tstz timestamptz, u uuid, j json, jb jsonb,
    by bytea, iv interval, arr integer[], req text NOT NULL);
INSERT INTO every_type VALUES
 (1, 0, 0, 0, 0, 0, false, 0, 0, 0, 0, 0, '', '', '', 'sad', '1970-01-01', '1970-01-01', '1970-01-01 00:00:00+00',
  '00000000-0000-0000-0000-000000000000', '{}', '{}', '', '0', '{}', 'x'),
 (2, -32768, -2147483648, -9223372036854775808, '-Infinity', '-Infinity', true,
  '-9999999999999999999999999999.9999999999', '-9999999.99', '-99999999999999.9999', '-99999999999999999999',
  '-1e-100', 'żółć 日本 🎉', 'ąęłńóśźż', 'ab', 'żółć', '4713-01-01 BC', '4713-01-01 00:00:00 BC',
  '4713-01-01 00:00:00+00 BC', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{"a": [1, 2.50, "ü"],  "b": null}',
  '{"b": [1, 2.50], "a": "ü"}', '\x00ff', '-178000000 years', '{1,NULL,3}', 'y'),
 (3, 32767, 2147483647, 9223372036854775807, 'Infinity', 'Infinity', NULL,
  '9999999999999999999999999999.9999999999', '9999999.99', '99999999999999.9999', '99999999999999999999',
  '123456789012345678901234567890123456789012345678901234567890.5', NULL, NULL, NULL, NULL, '5874897-12-31',
  '294247-01-10 04:00:54.775806', '294247-01-10 04:00:54.775806+00', NULL, NULL, NULL, NULL, NULL, NULL, 'z'),
 (4, NULL, NULL, NULL, 'NaN', 'NaN', NULL, NULL, NULL, NULL, NULL, 'NaN', NULL, NULL, NULL, NULL, 'infinity',
  'infinity', 'infinity', NULL, 'null', 'null', NULL, NULL, NULL, ''),
 (5, NULL, NULL, NULL, '-0', '-0', NULL, '0.0000000001', '0.01', '0.0001', '1', 'Infinity', NULL, NULL, NULL,
  NULL, '-infinity', '-infinity', '-infinity', NULL, NULL, NULL, NULL, NULL, NULL, ''),
 (6, 1, 1, 1, '3.4028235e38', '1.7976931348623157e308', true, '1234567890123456789012345678.0123456789',
  '1234567.89', '12345678901234.5678', '12345678901234567890', '-Infinity', repeat('long é ', 20000),
  'abcdefghij', 'abcd', 'happy', '1969-12-31', '1969-12-31 23:59:59.999999', '1969-12-31 23:59:59.999999+00',
  '00112233-4455-6677-8899-aabbccddeeff', '"text"', '"text"', '\xdeadbeef', '1 day 02:03:04.5', '{}', 'long'),
 (7, -1, -1, -1, '1e-45', '5e-324', false, '-0.0000000001', '-0.01', '-0.0001', '-1', '0.1', 'tab	and
newline', 'ä', 'ä', 'sad', '2038-01-20', '2038-01-19 03:14:08', '2038-01-19 03:14:08+00',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '[1, 2, 3]', '[1, 2, 3]', '\x00', '-1 mons', '{-1}', 'q'),
 (8, 7, 7, 7, '0.1', '0.1', true, '1.5', '1.5', '1.5', '15', '1.50', 'x', 'x', 'x', 'happy', '2262-04-12',
  '2262-04-12 00:00:00', '2024-06-01 12:00:00+02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', '1', '1', '\x01',
  '00:00:00.000001', '{7}', 'seven');
-- Many more rows: categories for dictionaries, distinct values for plain pages, several row groups.
INSERT INTO every_type (id, i2, i4, i8, f4, f8, b, d38, d9, d18, d20, n, t, vc, ch, e, dt, ts, tstz, u, j, jb, by,
                        iv, arr, req)
SELECT 100 + g, (g % 100)::smallint, g * 3, g::bigint * 1000003, g / 7.0, g / 3.0, g % 3 = 0,
       (g * 1.25)::numeric(38,10), (g % 1000) / 100.0, g / 10000.0, g * 11, g / 3.0,
       (ARRAY['books', 'music', 'games', 'garden'])[1 + g % 4], 'v' || (g % 10), 'c' || (g % 7),
       (ARRAY['sad', 'happy']::mood[])[1 + g % 2], DATE '1900-01-01' + g * 17,
       TIMESTAMP '1960-01-01' + g * INTERVAL '1 day 1 second', TIMESTAMPTZ '2030-01-01 00:00:00+00' + g * INTERVAL '1 hour',
       md5(g::text)::uuid, json_build_object('g', g), jsonb_build_object('g', g % 5), decode(md5(g::text), 'hex'),
       g * INTERVAL '1 minute', ARRAY[g, g + 1], 'r' || g
FROM generate_series(1, 3000) g;
