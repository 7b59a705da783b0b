"""Minimal reader for an R lazy-load database (Rdata.rdx/.rdb) holding character vectors.

Reads the index (.rdx, gzip-compressed R serialization), then each variable's zlib-compressed
serialized value from the .rdb, and writes every character vector as UTF-8 text, one line per element.
Handles only the R serialization types these files use (XDR format, version 2 or 3).
"""
import gzip
import os
import struct
import sys
import zlib

class Reader:
    def __init__(self, data):
        self.d = data; self.p = 0; self.refs = []
    def int(self):
        v = struct.unpack('>i', self.d[self.p:self.p+4])[0]; self.p += 4; return v
    def header(self):
        assert self.d[:2] == b'X\n', self.d[:2]
        self.p = 2
        version = self.int(); self.int(); self.int()
        if version == 3:
            n = self.int(); self.p += n
    def item(self):
        flags = self.int()
        t = flags & 0xFF
        has_attr = flags & (1 << 9); has_tag = flags & (1 << 10)
        if t == 254: return None          # NILVALUE
        if t in (253, 242, 241, 251, 252, 247): return ('special', t)
        if t == 255:                      # REFSXP
            idx = flags >> 8
            if idx == 0: idx = self.int()
            return self.refs[idx - 1]
        if t == 1:                        # SYMSXP
            s = self.item(); sym = ('sym', s); self.refs.append(sym); return sym
        if t in (2, 239, 6, 240):         # pairlists / language
            attr = self.item() if has_attr else None
            tag = self.item() if has_tag else None
            car = self.item(); cdr = self.item()
            return ('pair', tag, car, cdr, attr)
        if t == 9:                        # CHARSXP
            n = self.int()
            if n == -1: return None
            s = self.d[self.p:self.p+n]; self.p += n
            # The encoding flags sit in the "levels" bits above bit 12: LATIN1 = 4 (UTF8 = 8, ASCII = 64);
            # anything not marked Latin-1 is read as UTF-8, the package's declared encoding.
            latin1 = (flags >> 12) & 4
            return s.decode('latin-1' if latin1 else 'utf-8')
        if t in (10, 13):
            n = self.int(); v = struct.unpack('>%di' % n, self.d[self.p:self.p+4*n]); self.p += 4*n
            out = ('ints', v)
        elif t == 14:
            n = self.int(); v = struct.unpack('>%dd' % n, self.d[self.p:self.p+8*n]); self.p += 8*n
            out = ('reals', v)
        elif t == 16:
            n = self.int(); out = ('strs', [self.item() for _ in range(n)])
        elif t == 19:
            n = self.int(); out = ('list', [self.item() for _ in range(n)])
        else:
            raise ValueError('unsupported SEXP type %d at %d' % (t, self.p))
        if has_attr: out = out + (self.item(),)
        return out

def pairs(pl):
    while pl is not None and pl[0] == 'pair':
        yield pl[1][1], pl[2]; pl = pl[3]

def main(rdx, rdb, outdir):
    r = Reader(gzip.decompress(open(rdx, 'rb').read())); r.header()
    index = r.item()
    names = dict(pairs(index[2]))['names'][1]
    variables = dict(zip(names, index[1]))
    vnames = dict(pairs(variables['variables'][2]))['names'][1]
    blob = open(rdb, 'rb').read()
    os.makedirs(outdir, exist_ok=True)
    for name, loc in zip(vnames, variables['variables'][1]):
        off, ln = loc[1]
        chunk = blob[int(off):int(off) + int(ln)]
        size = struct.unpack('>I', chunk[:4])[0]
        raw = zlib.decompress(chunk[4:]); assert len(raw) == size
        rr = Reader(raw); rr.header(); val = rr.item()
        if val[0] != 'strs': print('skip', name, val[0]); continue
        lines = ['' if s is None else s for s in val[1]]
        with open(os.path.join(outdir, name + '.txt'), 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines) + '\n')
        print(name, len(lines), 'lines')

if __name__ == '__main__':
    main(*sys.argv[1:4])
