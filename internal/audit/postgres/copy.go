package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// copyMinRecords is the smallest batch Append sends with COPY; smaller ones
// (a sync-mode record, a trickle) take the prepared INSERT, whose round
// trip is cheaper than COPY's setup.
const copyMinRecords = 32

// copySQL is the COPY statement for table, columns in the order of columns.
func copySQL(table string) string {
	return fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", table, selectCols)
}

// pgEpochUnix is where PostgreSQL's binary timestamps count from:
// 2000-01-01T00:00:00Z.
const pgEpochUnix = 946684800

// copyHeader starts every binary COPY stream: signature, flags, header
// extension length.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// encodeCopy renders b (n rows) as a binary COPY stream into buf.
func encodeCopy(buf *bytes.Buffer, b *batch, n int) {
	buf.Write(copyHeader)
	var scratch [8]byte
	text := func(v string) {
		binary.BigEndian.PutUint32(scratch[:4], uint32(len(v)))
		buf.Write(scratch[:4])
		buf.WriteString(v)
	}
	optText := func(v *string) {
		if v == nil {
			buf.Write(nullField)
			return
		}
		text(*v)
	}
	jsonb := func(v []byte) {
		if v == nil {
			buf.Write(nullField)
			return
		}
		binary.BigEndian.PutUint32(scratch[:4], uint32(len(v)+1))
		buf.Write(scratch[:4])
		buf.WriteByte(1) // jsonb binary format version
		buf.Write(v)
	}
	int8 := func(v int64) {
		buf.Write(eightBytes)
		binary.BigEndian.PutUint64(scratch[:], uint64(v))
		buf.Write(scratch[:])
	}
	ts := func(t time.Time) {
		// Exact for every storable time (time.Time.Sub saturates at
		// ±292 years); Unix floors and Nanosecond is never negative.
		int8((t.Unix()-pgEpochUnix)*1_000_000 + int64(t.Nanosecond()/1000))
	}
	var fields [2]byte
	binary.BigEndian.PutUint16(fields[:], uint16(len(columns)))
	for i := range n {
		buf.Write(fields[:])
		text(b.id[i])
		text(b.actionID[i])
		optText(b.chainID[i])
		text(b.namespace[i])
		text(b.tenant[i])
		text(b.provider[i])
		text(b.actionType[i])
		text(b.verdict[i])
		optText(b.matchedRule[i])
		text(b.outcome[i])
		jsonb(b.payload[i])
		jsonb(b.verdictDetails[i])
		jsonb(b.outcomeDetails[i])
		jsonb(b.metadata[i])
		ts(b.dispatchedAt[i])
		ts(b.completedAt[i])
		int8(b.durationMs[i])
		if e := b.expiresAt[i]; e.Valid {
			ts(e.Time)
		} else {
			buf.Write(nullField)
		}
		text(b.callerID[i])
		text(b.authMethod[i])
		optText(b.recordHash[i])
		optText(b.previousHash[i])
		if q := b.sequence[i]; q.Valid {
			int8(q.Int64)
		} else {
			buf.Write(nullField)
		}
		jsonb(b.attachments[i])
		optText(b.signature[i])
		optText(b.signerID[i])
		optText(b.kid[i])
		optText(b.canonicalHash[i])
	}
	buf.Write(copyTrailer)
}

var (
	nullField   = []byte{0xff, 0xff, 0xff, 0xff}
	eightBytes  = []byte{0, 0, 0, 8}
	copyTrailer = []byte{0xff, 0xff}
)

// copyAppend stores b with one binary COPY. COPY is all-or-nothing; it
// fails with a unique violation if a record's id is already stored (a retry
// of a batch whose first try succeeded unseen) or repeated in the batch,
// which the caller then resolves with the INSERT … ON CONFLICT DO NOTHING.
func (s *Store) copyAppend(ctx context.Context, b *batch, n int) error {
	buf := copyBufs.get()
	defer copyBufs.put(buf)
	encodeCopy(buf, b, n)
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	_, err = conn.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(buf.Bytes()), s.sql.copy)
	return err
}

// uniqueViolation reports whether err is PostgreSQL's unique_violation.
func uniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// bufPool recycles COPY buffers (a batch of thousands of records is
// megabytes).
type bufPool struct{ ch chan *bytes.Buffer }

var copyBufs = bufPool{ch: make(chan *bytes.Buffer, 8)}

func (p bufPool) get() *bytes.Buffer {
	select {
	case b := <-p.ch:
		return b
	default:
		return new(bytes.Buffer)
	}
}

func (p bufPool) put(b *bytes.Buffer) {
	if b.Cap() > 64<<20 {
		return
	}
	b.Reset()
	select {
	case p.ch <- b:
	default:
	}
}
