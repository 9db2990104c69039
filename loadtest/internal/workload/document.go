package workload

import (
	"strconv"
	"time"
)

var (
	firstNames = []string{"Alice", "Bruno", "Chloé", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
		"Kofi", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tariq", "Uma", "Victor",
		"Wen", "Ximena", "Yusuf", "Zoe"}
	lastNames = []string{"Moreno", "Schmidt", "Okafor", "Tanaka", "Kowalski", "Haddad", "Nguyen", "Rossi",
		"Johansson", "Fernandes", "Petrov", "Dubois", "O'Brien", "Kim", "Singh", "Andersen", "Costa", "Müller",
		"Ivanova", "Lopez"}
	domains = []string{"example.com", "mail.example.org", "corp.example.net", "inbox.example.io"}
	tagSet  = []string{"admin", "beta", "eu-west", "us-east", "premium", "trial", "mobile", "newsletter",
		"verified", "support", "partner", "dev"}
	// Cities is the value set of the "city" field, which the search
	// workload indexes.
	Cities = []string{"Lisbon", "Berlin", "Lagos", "Osaka", "Kraków", "Beirut", "Hanoi", "Milan",
		"Göteborg", "Porto", "Sofia", "Lyon", "Dublin", "Seoul", "Pune", "Aarhus"}
	words = []string{"lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
		"eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua"}
	epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
)

// DocGen generates realistic JSON user documents: a name, an e-mail
// address, an age, a flag, tags, a score, a city, a timestamp and a visit
// counter, padded with a "bio" of words to about Size bytes. Document k
// is a pure function of (Seed, k), and its fields are those of document
// k whatever its _id. The zero Size means no padding (about 200 bytes).
type DocGen struct {
	Seed uint64
	Size int
}

// Fields are the generated values of one document, for building queries
// that match it.
type Fields struct {
	Name, Email, City string
	Age, Visits       int
}

// Fields returns the field values of document k.
func (g DocGen) Fields(k uint64) Fields {
	r := newRNG(g.Seed^0x646f6367656e, k)
	first := firstNames[r.IntN(len(firstNames))]
	last := lastNames[r.IntN(len(lastNames))]
	f := Fields{Name: first + " " + last}
	var email []byte
	for _, s := range []string{first, ".", last} {
		for _, c := range []byte(s) {
			if c < 0x80 && c != '\'' {
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				email = append(email, c)
			}
		}
	}
	email = strconv.AppendUint(email, k, 10)
	email = append(email, '@')
	email = append(email, domains[r.IntN(len(domains))]...)
	f.Email = string(email)
	f.Age = 18 + r.IntN(70)
	f.City = Cities[r.IntN(len(Cities))]
	f.Visits = r.IntN(100000)
	return f
}

// Append appends document k with the given _id to dst.
func (g DocGen) Append(dst []byte, id string, k uint64) []byte {
	f := g.Fields(k)
	r := newRNG(g.Seed^0x6d6f7265, k)
	start := len(dst)
	dst = append(dst, `{"_id":`...)
	dst = strconv.AppendQuote(dst, id)
	dst = append(dst, `,"name":`...)
	dst = strconv.AppendQuote(dst, f.Name)
	dst = append(dst, `,"email":"`...)
	dst = append(dst, f.Email...)
	dst = append(dst, `","age":`...)
	dst = strconv.AppendInt(dst, int64(f.Age), 10)
	dst = append(dst, `,"active":`...)
	dst = strconv.AppendBool(dst, r.IntN(4) != 0)
	dst = append(dst, `,"tags":[`...)
	for t, n := 0, 1+r.IntN(3); t < n; t++ {
		if t > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, tagSet[r.IntN(len(tagSet))]...)
		dst = append(dst, '"')
	}
	dst = append(dst, `],"score":`...)
	dst = strconv.AppendFloat(dst, float64(r.IntN(10000))/100, 'f', -1, 64)
	dst = append(dst, `,"city":"`...)
	dst = append(dst, f.City...)
	dst = append(dst, `","created":"`...)
	dst = epoch.Add(time.Duration(r.Uint64N(uint64(3*365*24*time.Hour)))).AppendFormat(dst, time.RFC3339)
	dst = append(dst, `","visits":`...)
	dst = strconv.AppendInt(dst, int64(f.Visits), 10)
	if pad := g.Size - (len(dst) - start) - len(`,"bio":""}`); pad > 0 {
		dst = append(dst, `,"bio":"`...)
		for n := 0; n < pad; {
			w := words[r.IntN(len(words))]
			if n > 0 {
				dst = append(dst, ' ')
				n++
			}
			if n+len(w) > pad {
				for n < pad {
					dst = append(dst, 'x')
					n++
				}
				break
			}
			dst = append(dst, w...)
			n += len(w)
		}
		dst = append(dst, '"')
	}
	return append(dst, '}')
}
