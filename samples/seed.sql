-- Fills documents_header (sample migrations at head, 0004) with 5000 realistic, compressible rows for the
-- demo and for backup tests. Deterministic (no random()) and safe to run twice (ON CONFLICT DO NOTHING).
--   alembic -c samples/migrations/alembic.ini upgrade head
--   psql -v ON_ERROR_STOP=1 -f samples/seed.sql
INSERT INTO documents_header (id, title, created_at, status, customer_id, amount, notes, updated_at)
SELECT
    'DOC-' || to_char(i, 'FM000000'),
    (ARRAY['Invoice', 'Credit note', 'Delivery note', 'Order confirmation', 'Quote'])[1 + i % 5]
        || ' ' || to_char(i, 'FM000000') || ' for '
        || (ARRAY['Müller GmbH', 'Schmidt & Söhne KG', 'Weber Logistik AG', 'Becker Bau GmbH',
                  'Hoffmann Elektro', 'Fischer Maschinenbau', 'Wagner Textil', 'Schulz IT-Service'])[1 + i % 8],
    timestamptz '2026-01-01 08:00:00+00' + (i * interval '37 minutes'),
    (ARRAY['draft', 'sent', 'paid', 'paid', 'paid', 'overdue', 'cancelled'])[1 + i % 7],
    'CUST-' || to_char(1 + i % 97, 'FM0000'),
    round(((i * 7919) % 250000) / 100.0, 2),
    'Zahlungsziel 30 Tage netto. Lieferung frei Haus gemäß Rahmenvertrag RV-2026-'
        || to_char(1 + i % 12, 'FM00') || '. Bei Rückfragen wenden Sie sich bitte an die Buchhaltung.',
    CASE WHEN i % 3 = 0 THEN timestamptz '2026-01-01 08:00:00+00' + (i * interval '41 minutes') END
FROM generate_series(1, 5000) AS i
ON CONFLICT (id) DO NOTHING;
