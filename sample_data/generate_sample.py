#!/usr/bin/env python3
"""Deterministic generator for the bundled attrib sample data.

Writes holders.csv, corpus.jsonl and generations.jsonl next to this file.
Standard library only; fixed seed, so re-running reproduces the same bytes.
All texts are original and fictional, built from hand-written phrase banks,
one very distinct subject/style/vocabulary per rights holder.

    python sample_data/generate_sample.py
"""
import csv
import json
import os
import random
import re

SEED = 20240517
HERE = os.path.dirname(os.path.abspath(__file__))
MIN_LEN, MAX_LEN = 220, 480

HOLDERS = [
    # id, name, contact, country
    ("h01", "Captain Maren Holt", "maren.holt@example.org", "NO"),
    ("h02", "Ada Okonkwo-Reyes", "ada.bakehouse@example.org", "IE"),
    ("h03", "Matsukaze Haiku Circle", "circle@matsukaze.example.org", "JP"),
    ("h04", "Viktor Lindqvist", "viktor.lindqvist@example.org", "SE"),
    ("h05", "Rosalind Fairweather", "roz.fairweather@example.org", "NZ"),
    ("h06", "Pembrook, Vale & Associates", "clauses@pembrookvale.example.org", "US"),
    ("h07", "Dario Menendez", "dario.menendez@example.org", "ES"),
    ("h08", "Nia Castellane", "nia.castellane@example.org", "CA"),
    ("h09", "Fenwick Birding Circle", "records@fenwickbirders.example.org", "NL"),
    ("h10", "Ingrid Solberg", "ingrid.solberg@example.org", "IS"),
    ("h11", "Tomasz Wierzbicki", "tomasz.w@example.org", "PL"),
    ("h12", "Brother Aldous of Wendmere", "aldous@wendmere.example.org", "GB"),
]

# (main license, {per-holder doc index: exception license}, source base, slug word)
META = {
    "h01": ("CC-BY-4.0", {3: "CC0-1.0", 11: "CC0-1.0"}, "https://example.org/logbooks/kestrel", "entry"),
    "h02": ("CC-BY-SA-4.0", {}, "https://bakehouse.example.com/recipes", "recipe"),
    "h03": ("CC0-1.0", {}, "https://matsukaze.example.org/poems", "sequence"),
    "h04": ("CC-BY-4.0", {}, "https://example.org/chess-notes/games", "game"),
    "h05": ("CC-BY-NC-4.0", {}, "https://example.org/fairweather-garden/notes", "note"),
    "h06": ("CC-BY-SA-4.0", {}, "https://pembrookvale.example.com/clauses", "clause"),
    "h07": ("LicenseRef-ExampleNewsroom-Terms", {7: "CC-BY-NC-4.0"},
            "https://news.example.com/sport/football", "report"),
    "h08": ("CC-BY-NC-4.0", {5: "CC-BY-4.0"}, "https://example.org/castellane/stories", "story"),
    "h09": ("CC0-1.0", {}, "https://fenwickbirders.example.org/records", "visit"),
    "h10": ("LicenseRef-ExampleNewsroom-Terms", {}, "https://news.example.com/weather/forecast", "forecast"),
    "h11": ("MIT", {2: "Apache-2.0", 9: "Apache-2.0", 15: "Apache-2.0"},
            "https://example.com/til-python/posts", "post"),
    "h12": ("CC-BY-SA-4.0", {}, "https://wendmere.example.org/ballads", "ballad"),
}

# regular documents per holder (the co-owned ones come on top)
COUNTS = {"h01": 21, "h02": 22, "h03": 21, "h04": 21, "h05": 22, "h06": 21,
          "h07": 21, "h08": 22, "h09": 21, "h10": 22, "h11": 21, "h12": 21}

# (holder, per-holder doc index) that opted out of training
OPT_OUT = {("h05", 4), ("h10", 8)}

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def ordinal(n):
    if 10 <= n % 100 <= 20:
        suf = "th"
    else:
        suf = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suf}"


# --------------------------------------------------------------- h01 sailor
def gen_sailor(r):
    winds = ["N", "NNE", "NE", "E", "SE", "S", "SSW", "SW", "W", "WNW", "NW"]
    states = ["slight", "moderate", "rough", "calm", "choppy", "moderate, long swell"]
    marks = ["Gull Rock light", "the Skerries buoy", "Black Head", "a coaster heading north",
             "the fishing fleet", "Storholm lighthouse", "the cardinal mark off Hare Point",
             "a ferry outbound", "the radio mast on Varden"]
    crew = ["Jensen", "Okoro", "Pell", "the mate", "Lund", "young Aske"]
    items = [
        lambda: f"Wind {r.choice(winds)} {r.randint(6, 28)} knots, sea {r.choice(states)}.",
        lambda: f"Barometer {r.randint(992, 1026)} hPa, {r.choice(['falling slowly', 'steady', 'rising', 'falling fast'])}.",
        lambda: f"Course {r.randint(0, 359):03d} true, making {r.randint(3, 7)}.{r.randint(0, 9)} knots.",
        lambda: f"Sighted {r.choice(marks)} bearing {r.randint(0, 359):03d}, {r.randint(2, 12)} nm.",
        lambda: r.choice(["Reefed main.", "Shook out reef, full main and genoa.", "Handed the jib.",
                          "Set the spinnaker.", "Second reef in, storm jib hanked on.",
                          "Eased sheets, wind freeing."]),
        lambda: r.choice(["Tacked onto starboard.", "Tacked onto port.", "Gybed onto starboard tack.",
                          "Bore away to clear the shoal."]),
        lambda: f"Watch change, {r.choice(crew)} on deck.",
        lambda: f"Bilge pumped, {r.randint(8, 60)} strokes.",
        lambda: f"Engine on to clear the headland, {r.choice([1500, 1800, 2000, 2200])} rpm.",
        lambda: (f"Position {r.randint(56, 62)} {r.randint(0, 59):02d}.{r.randint(0, 9)}N "
                 f"{r.randint(3, 9):03d} {r.randint(0, 59):02d}.{r.randint(0, 9)}E by fix."),
        lambda: f"Squall from the {r.choice(['west', 'north', 'southwest'])}, rain, visibility {r.randint(1, 3)} nm.",
        lambda: r.choice(["Starboard running light out, replaced bulb.", "Log line fouled with weed, cleared.",
                          "Chafe on the mainsheet, whipped it.", "Tea and bread for the watch."]),
    ]
    coves = ["Harrow Cove", "Seal Cove", "Kvitsund", "Mill Bay", "the lee of Fugloy", "Ravnsvik"]
    ends = [
        lambda: (f"Anchored in {r.choice(coves)}, {r.randint(3, 9)} fathoms, "
                 f"{r.choice(['sand', 'mud', 'sand and shell', 'weed'])}. All well."),
        lambda: f"Moored alongside at {r.choice(['Brekke', 'Lerwick quay', 'the fuel berth', 'Vestby'])}. Engine off. All well.",
        lambda: "Hove to, lights lit, waiting for the tide to turn.",
        lambda: f"Picked up mooring buoy {r.randint(2, 30)}. Sails stowed. All well.",
    ]
    t = r.choice([430, 500, 530, 600, 630, 700, 730])
    parts = [f"Log, {r.randint(1, 28)} {r.choice(MONTHS)}."]
    n_entries = r.randint(4, 6)
    pool = list(range(len(items)))
    r.shuffle(pool)
    for e in range(n_entries):
        h, m = divmod(t, 100)
        stamp = f"{h:02d}{m:02d}:"
        if e == n_entries - 1:
            parts.append(f"{stamp} {r.choice(ends)()}")
        else:
            k = r.choice([1, 1, 2])
            parts.append(stamp + "".join(" " + items[pool.pop()]() for _ in range(k)))
        mins = h * 60 + m + r.choice([60, 90, 120, 150, 180, 210])
        t = (mins // 60) * 100 + (mins % 60)
        if t >= 2330:
            break
    return " ".join(parts)


# ---------------------------------------------------------------- h02 baker
def gen_baker(r):
    kind = r.choice(["bread", "bread", "cake", "biscuit"])
    common = ["Best eaten the same day.", "Freezes well for a month.", "Weigh everything; cups are not accurate enough."]
    tips = {"bread": common + ["Cool on a wire rack before slicing.", "Keeps for three days wrapped in a tea towel.",
                               "Tap the base: a hollow sound means it is done."],
            "cake": common + ["Leave in the tin for 10 minutes before turning out.", "Keeps for four days in a tin.",
                              "Brush with warm syrup as soon as it comes out."],
            "biscuit": common + ["Cool on the tray for 5 minutes; they crisp as they cool.",
                                 "Store in an airtight tin, away from cake."]}[kind]
    if kind == "bread":
        name, flour2 = r.choice([("Rye and caraway loaf", "rye flour"), ("Seeded farmhouse loaf", "wholemeal flour"),
                                 ("Spelt sandwich loaf", "white spelt flour"), ("Honey oat loaf", "rolled oats"),
                                 ("Walnut and raisin bread", "wholemeal flour"), ("Rye country loaf", "rye flour"),
                                 ("Olive and rosemary focaccia", "semolina"), ("Soft milk rolls", "plain flour")])
        extra = r.choice(["", "2 tsp caraway seeds", "60 g mixed seeds", "80 g chopped walnuts",
                          "1 tbsp honey", "2 tbsp olive oil", "100 g raisins"])
        dry = [f"{r.choice([300, 350, 400, 450])} g strong white flour", f"{r.choice([50, 100, 150])} g {flour2}",
               f"{r.choice([7, 8, 9, 10])} g salt", f"{r.choice([5, 7, 10])} g dried yeast"] + ([extra] if extra else [])
        finish = r.choice(["score the top", "brush with beaten egg", "dust with flour",
                           "dimple with oiled fingers", "sprinkle with oats"])
        return (f"{name}. Mix {', '.join(dry[:-1])} and {dry[-1]}. "
                f"Add {r.choice([280, 300, 320, 340, 360])} ml warm water and knead for {r.choice([8, 10, 12, 15])} minutes. "
                f"Prove for {r.choice([45, 60, 75, 90])} minutes until doubled. "
                f"Shape, {finish} and bake at {r.choice([200, 210, 220, 230, 240])} C for {r.choice([25, 30, 35, 40, 45])} minutes. "
                f"{r.choice(tips)}")
    if kind == "cake":
        name = r.choice(["Lemon drizzle cake", "Victoria sponge", "Cardamom loaf cake", "Apple and cinnamon cake",
                         "Marmalade cake", "Coffee and walnut cake", "Ginger traybake"])
        extra = r.choice(["", " and the zest of two lemons", " with 1 tsp ground cardamom",
                          " with 2 grated apples", " and 2 tbsp strong coffee", " with 2 tsp ground ginger"])
        tin = r.choice(["900 g loaf", "20 cm round", "two 20 cm sandwich", "23 cm square", "20 x 30 cm traybake"])
        return (f"{name}. Cream {r.choice([175, 200, 225])} g soft butter with {r.choice([150, 175, 200])} g caster sugar until pale. "
                f"Beat in {r.choice([3, 4])} eggs one at a time, then fold in {r.choice([175, 200, 225])} g self-raising flour{extra}. "
                f"Spoon into a lined {tin} tin and bake at {r.choice([160, 170, 180])} C for {r.choice([25, 35, 40, 45, 50])} minutes, "
                f"until a skewer comes out clean. {r.choice(tips)}")
    name = r.choice(["Shortbread rounds", "Oat biscuits", "Cheese scones", "Ginger snaps", "Lemon thins",
                     "Brown butter cookies", "Fruit scones"])
    extra = r.choice(["", " and a pinch of salt", " and 50 g sultanas", " with 1 tsp ground ginger",
                      " and 80 g grated cheddar", " and 1 tsp vanilla"])
    liquid = r.choice(["one beaten egg", "2 tbsp milk", "a splash of cold water", "100 ml buttermilk"])
    return (f"{name}. Rub {r.choice([100, 125, 150])} g cold butter into {r.choice([200, 225, 250])} g plain flour, "
            f"stir in {r.choice([50, 75, 100])} g sugar{extra} and bring together with {liquid}. "
            f"Roll to {r.choice([5, 8, 10, 20])} mm, cut into rounds and chill for {r.choice([15, 20, 30])} minutes. "
            f"Bake at {r.choice([170, 180, 190, 200])} C for {r.choice([10, 12, 15, 18])} minutes until golden at the edges. "
            f"{r.choice(tips)}")


# ---------------------------------------------------------------- h03 haiku
HAIKU = {
    "spring": (["plum blossom drifting", "thin rain on the roof", "the first swallow back", "a frog in the ditch",
                "morning mist lifting", "cherry petals fall", "new leaves on the oak", "a lark overhead"],
               ["the old gate creaks in the wind", "a child counts the budding twigs", "snowmelt hurries down the hill",
                "my sleeve smells of wet green grass", "the kettle sings by the door", "light spills across the wet field",
                "two sparrows quarrel and part", "the river forgets its ice"],
               ["March", "April", "May"]),
    "summer": (["cicadas shrilling", "heat on the stone steps", "a bare foot in sand", "midsummer twilight",
                "the slow drip of noon", "fireflies at dusk", "thunder far away", "the lake holds the sky"],
               ["a dragonfly rests on the oar", "the watermelon splits wide", "my shadow hides under me",
                "the dog sleeps beneath the cart", "a straw hat drifts down the stream", "the fan turns the same old air",
                "long grass bends toward the shore", "the bell rings through the hot air"],
               ["June", "July", "August"]),
    "autumn": (["maple leaves let go", "the harvest moon climbs", "smoke from the far field", "geese heading southward",
                "cold rain on the pond", "a persimmon glows", "acorns on the path", "the scarecrow leaning"],
               ["the empty nest sways alone", "rice stubble steams in the sun", "I button my coat again",
                "a crow laughs at the bare field", "the lamp is lit before six", "wind combs through the yellow reeds",
                "my footsteps crackle and fade", "the old well tastes of iron"],
               ["September", "October", "November"]),
    "winter": (["first snow on the eaves", "a crow on the wire", "the frozen puddle", "long night by the stove",
                "breath hangs in the air", "pine boughs bend with snow", "the moon on the ice", "silence after snow"],
               ["footprints lead to no one's door", "the kettle ticks as it cools", "a fox crosses the white field",
                "my ink stone is cold as stone", "bare branches scratch at the sky", "the sparrows puff up and wait",
                "the mountain wears a white shawl", "only the stream keeps talking"],
               ["December", "January", "February"]),
}


def gen_haiku(r):
    season = r.choice(sorted(HAIKU))
    fives, sevens, months = HAIKU[season]
    month = r.choice(months)
    title = r.choice([f"Three poems for {season}", f"{season.capitalize()} notebook", f"{month}, three haiku",
                      f"Small {season} poems"])
    note = r.choice([f"Written at the window, {month}.", f"From a walk along the river, {month}.",
                     f"Read aloud at the circle's {month} meeting.", f"Kept in a pocket notebook, {month}.",
                     f"Composed on the early train, {month}."])
    f = r.sample(fives, 6)
    s = r.sample(sevens, 3)
    poems = ["\n".join([f[2 * i], s[i], f[2 * i + 1]]) for i in range(3)]
    return f"{title}\n\n" + "\n\n".join(poems) + f"\n\n{note}"


# ---------------------------------------------------------------- h04 chess
OPENINGS = [
    ("Najdorf Sicilian", "1.e4 c5 2.Nf3 d6 3.d4 cxd4 4.Nxd4 Nf6 5.Nc3 a6", 5),
    ("Ruy Lopez", "1.e4 e5 2.Nf3 Nc6 3.Bb5 a6 4.Ba4 Nf6 5.O-O Be7", 5),
    ("Queen's Gambit Declined", "1.d4 d5 2.c4 e6 3.Nc3 Nf6 4.Bg5 Be7", 4),
    ("King's Indian Defence", "1.d4 Nf6 2.c4 g6 3.Nc3 Bg7 4.e4 d6 5.Nf3 O-O", 5),
    ("Winawer French", "1.e4 e6 2.d4 d5 3.Nc3 Bb4 4.e5 c5", 4),
    ("Classical Caro-Kann", "1.e4 c6 2.d4 d5 3.Nc3 dxe4 4.Nxe4 Bf5", 4),
    ("English Opening", "1.c4 e5 2.Nc3 Nf6 3.g3 d5 4.cxd5 Nxd5", 4),
    ("Giuoco Piano", "1.e4 e5 2.Nf3 Nc6 3.Bc4 Bc5 4.c3 Nf6 5.d3 d6", 5),
    ("Nimzo-Indian", "1.d4 Nf6 2.c4 e6 3.Nc3 Bb4 4.e3 O-O", 4),
    ("Slav Defence", "1.d4 d5 2.c4 c6 3.Nf3 Nf6 4.Nc3 dxc4", 4),
    ("Scandinavian", "1.e4 d5 2.exd5 Qxd5 3.Nc3 Qa5", 3),
    ("London System", "1.d4 d5 2.Nf3 Nf6 3.Bf4 e6 4.e3 c5", 4),
]
PLAYERS = ["Kovacs", "Almeida", "Haldane", "Moreau", "Petrosyan-Weiss", "Okafor", "Lindgren", "Tanaka",
           "Brandt", "Ferreira", "Novak", "Quist", "Ilyin", "Sato"]


def gen_chess(r):
    name, line, k = r.choice(OPENINGS)
    w, b = r.sample(PLAYERS, 2)
    event = r.choice([f"Round {r.randint(1, 9)}", f"Board {r.randint(1, 8)}, Round {r.randint(1, 9)}",
                      "Final round", f"Rapid game {r.randint(1, 4)}"])
    nxt = k + 1
    follow = r.choice([
        f"White chose {nxt}.{r.choice(['Be3', 'Bg5', 'h3', 'Qd2', 'Re1', 'a4', 'Bd3'])} and the game sharpened quickly.",
        "Both sides castled and the centre stayed closed for a long time.",
        f"Black answered {nxt}...{r.choice(['Nbd7', 'Qc7', 'h6', 'Be6', 'c6', 'a6'])}, clearly prepared at home.",
        "Play drifted into a quiet manoeuvring middlegame with no weaknesses on either side.",
    ])
    cm = r.randint(nxt + 8, nxt + 24)
    side_black = r.random() < 0.5
    mv = r.choice(["Bxe5+", "Nf5", "Bxh7+", "Rxd7", "Qh5", "Nd5", "Rxc3", "Qxb2", "Ne4", "f5", "d5",
                   "Rae8", "Nxg3", "Qg4", "h5", "Bxf7+", "Rxe6"])
    move = f"{cm}...{mv}" if side_black else f"{cm}.{mv}"
    ann = r.choice(["!", "!?", "?", "!!", "?!", ""])
    comment = r.choice(["a bold exchange that opened the king", "missing the quiet defence on the back rank",
                        "and suddenly every piece was in the attack", "a move the engines rated far lower than the players did",
                        "after a long think of forty minutes", "a positional sacrifice for two pawns and lasting pressure"])
    ev = r.choice(["From here the position was objectively equal but hard to play.", "The engines gave White a clear edge.",
                   "Black's pieces were suddenly far more active.", "Both players were short of time by move 35.",
                   "The endgame that followed was rook and pawn against rook.", ""])
    end = r.randint(cm + 5, cm + 30)
    res = r.choice([f"Black resigned on move {end}.", f"White resigned on move {end}.",
                    f"Draw agreed after {end} moves by repetition.", f"The game was drawn on move {end}, opposite-coloured bishops.",
                    f"{b} lost on time on move {end} in a winning position.", f"{w} converted cleanly and won on move {end}."])
    text = (f"{event}, {w} vs. {b}. After {line} we reach the {name}. {follow} "
            f"The critical moment came with {move}{ann}, {comment}. {ev} {res}")
    return re.sub(r"  +", " ", text)


# ------------------------------------------------------------- h05 gardener
def gen_garden(r):
    bed = r.choice(["bed 3", "the south border", "raised bed 2", "the fruit cage", "the greenhouse",
                    "the herb spiral", "plot 14", "the long border", "the cold frame"])
    when = r.choice(["early", "mid", "late"]) + " " + r.choice(
        ["March", "April", "May", "June", "July", "August", "September", "October"])
    soil = r.choice(["heavy clay, slow to warm", "light and sandy, drains fast", "dark loam, crumbly and moist",
                     "compacted where the barrow runs", "still cold and sticky", "dry on top, damp a spade down"])
    work = r.choice(["Dug in two barrows of leaf mould", "Forked over and added a handful of bonemeal per square metre",
                     "Spread 5 cm of garden compost as mulch", "Limed lightly to sweeten the soil",
                     "Turned the phacelia green manure in", "Top-dressed with well-rotted horse manure",
                     "Weeded out bindweed roots, as far as they go"])
    sow = r.sample(["Sowed broad beans 'Aquadulce' 5 cm deep, 20 cm apart",
                    "Planted out 12 tomatoes 'Gardener's Delight' along the canes",
                    "Pricked out lettuce seedlings into modules", "Lifted and divided the rhubarb crowns",
                    "Set onion sets 10 cm apart, tips just showing", "Pruned the gooseberries to an open goblet",
                    "Potted on the chilli seedlings into 9 cm pots", "Planted garlic 'Germidour', pointed end up",
                    "Sowed carrots 'Nantes' thinly in a shallow drill", "Tied in the new raspberry canes"],
                   r.choice([1, 2]))
    pest = r.choice(["Slugs out in the evening damp; set beer traps.", "Aphids on the broad bean tips; pinched them out.",
                     "Blackbirds pulling up the onion sets again, so netted the row.",
                     "Cabbage white eggs under the kale leaves, rubbed off.", "Vine weevil grubs in one pot; drenched with nematodes.",
                     "Powdery mildew starting on the courgettes; removed the worst leaves.",
                     "No pests to speak of, ladybirds on the roses.", "Rabbit damage on the lettuces overnight."])
    weather = r.choice(["Light frost overnight, ground thawed by ten. ", "Warm and still, bees busy on the comfrey. ",
                        "Dry spell, watered the seed rows at dusk. ", "Showers all afternoon. ", ""])
    nxt = r.sample(["mulch the raspberries", "earth up the potatoes", "thin the carrots", "water the greenhouse twice daily",
                    "sow a second row of peas", "turn the compost heap", "feed the tomatoes with comfrey tea",
                    "order seed potatoes", "cut back the lavender"], 2)
    return (f"Notes, {bed}, {when}. Soil is {soil}, pH about {r.randint(58, 72) / 10:.1f}. {work}. "
            f"{'. '.join(sow)}. {weather}{pest} Next: {nxt[0]} and {nxt[1]}.")


# ---------------------------------------------------------------- h06 legal
LEGAL_PARTIES = [("Licensor", "Licensee"), ("Supplier", "Customer"), ("Disclosing Party", "Receiving Party"),
                 ("Owner", "Contractor"), ("Landlord", "Tenant"), ("Publisher", "Author")]
LEGAL_SPECIFIC = {
    "Confidentiality": [
        'Notwithstanding anything to the contrary contained herein, the {B} (hereinafter the "Recipient") shall not '
        "disclose any Confidential Information to any third party without the prior written consent of the {A}.",
        "The {B} shall hold all Confidential Information in strict confidence and use the same solely for the Purpose.",
    ],
    "Limitation of Liability": [
        "In no event shall the {A} be liable to the {B} for any indirect, incidental or consequential loss, howsoever arising.",
        "The aggregate liability of the {A} hereunder shall not exceed the fees paid in the {n} months preceding the claim.",
    ],
    "Indemnification": [
        "The {B} shall indemnify and hold harmless the {A}, its officers and agents (hereinafter the "
        '"Indemnified Parties") from and against any and all claims arising hereunder.',
        "The {A} shall promptly notify the {B} in writing of any claim for which indemnity is sought.",
    ],
    "Termination": [
        "Either party may terminate this Agreement upon {n} days' written notice to the other party.",
        "The {A} may terminate forthwith should the {B} commit a material breach which remains unremedied for {n} days.",
    ],
    "Force Majeure": [
        "Neither party shall be liable for any delay or failure to perform caused by events beyond its reasonable "
        "control, including without limitation fire, flood, strike or act of God.",
        "Should such event continue for more than {n} days, either party may terminate this Agreement forthwith.",
    ],
    "Governing Law": [
        "This Agreement and any dispute arising hereunder shall be governed by and construed in accordance with "
        "the laws of the State of Example, without regard to its conflict of laws principles.",
        "The parties hereby submit to the exclusive jurisdiction of the courts of Example County.",
    ],
    "Assignment": [
        "The {B} shall not assign, transfer or sublicense any of its rights hereunder without the prior written "
        "consent of the {A}, such consent not to be unreasonably withheld.",
        "Any purported assignment in contravention of this clause shall be null and void ab initio.",
    ],
    "Severability": [
        "If any provision hereof is held invalid or unenforceable, the remaining provisions shall continue in full force and effect.",
        "The parties shall negotiate in good faith a valid provision that most nearly reflects the original intent.",
    ],
    "Warranties": [
        'The {A} warrants that it is the sole owner of the Work (hereinafter the "Licensed Material") and has full '
        "power to grant the rights herein.",
        'Save as expressly provided herein, the Licensed Material is provided "as is" without warranty of any kind.',
    ],
    "Notices": [
        "Any notice hereunder shall be in writing and delivered by hand, by courier or by registered post to the "
        "address of the other party set out above.",
        "Notices shall be deemed received {n} business days after dispatch.",
    ],
}
LEGAL_GENERAL = [
    "For the avoidance of doubt, nothing in this clause shall be construed as a waiver of any right or remedy.",
    "The foregoing shall survive the expiry or termination of this Agreement for a period of {y} years.",
    "Save as expressly provided herein, all warranties, whether express or implied, are hereby excluded to the fullest extent permitted by law.",
    "The parties hereto acknowledge that the foregoing is reasonable in all the circumstances.",
    "Headings are for convenience only and shall not affect the interpretation hereof.",
    "Notwithstanding the foregoing, the obligations herein shall not apply to information already in the public domain.",
    "Time shall be of the essence in respect of the obligations set out in this clause.",
]


def gen_legal(r):
    a, b = r.choice(LEGAL_PARTIES)
    head = r.choice(sorted(LEGAL_SPECIFIC))
    spec = LEGAL_SPECIFIC[head]
    picked = [r.choice(spec)] if r.random() < 0.5 else list(spec)
    picked += r.sample(LEGAL_GENERAL, r.choice([1, 2]))
    body = " ".join(s.format(A=a, B=b, n=r.choice([14, 30, 60, 90, 12, 6]), y=r.choice([2, 3, 5, 7])) for s in picked)
    return f"Clause {r.randint(2, 19)}.{r.randint(1, 6)} ({head}). {body}"


# ------------------------------------------------------------- h07 football
TEAMS = ["Harbour City", "Northgate Rovers", "Ashford Athletic", "Kingsbridge United", "Millbrook Town",
         "Redcliffe Wanderers", "Eastmoor FC", "Porthaven Albion", "Stanton Villa", "Lowfield Rangers"]
FOOT_PLAYERS = ["Okafor", "Silva", "Brandt", "McAllister", "Duarte", "Kowalczyk", "Haaland-Berg", "Mensah",
                "Iversen", "Ruiz", "O'Neill", "Traore", "Castro", "Whitlock", "Nakamura", "Pereira"]


def gen_football(r):
    home, away = r.sample(TEAMS, 2)
    hg, ag = r.choice([(0, 0), (1, 0), (2, 1), (1, 1), (3, 1), (0, 2), (2, 2), (4, 0), (1, 3), (3, 2), (2, 0), (0, 1)])
    goals = [home] * hg + [away] * ag
    r.shuffle(goals)
    mins = sorted(r.sample(range(3, 94), len(goals)))
    actions = ["drove low into the corner", "headed in a corner at the near post", "converted a penalty",
               "tapped in at the far post", "curled a free kick over the wall", "finished a swift counter-attack",
               "lobbed the stranded keeper", "volleyed home from twelve yards", "turned in a cross from the left"]
    parts = [f"{home} {hg}-{ag} {away}."]
    if not goals:
        parts.append(r.choice(["A goalless draw with few chances at either end.",
                               "Neither keeper was seriously tested in a scrappy first half.",
                               "Both sides cancelled each other out in midfield."]))
    score = [0, 0]
    used = set()
    acts = r.sample(actions, len(goals))
    for team, m, act in zip(goals, mins, acts):
        score[0 if team == home else 1] += 1
        p = r.choice([x for x in FOOT_PLAYERS if x not in used])
        used.add(p)
        if m > 90:
            when = f"Deep into stoppage time, 90+{m - 90},"
        else:
            when = r.choice([f"On {m} minutes,", f"In the {ordinal(m)} minute,", f"{m} minutes in,"])
        parts.append(f"{when} {p} {act} to make it {score[0]}-{score[1]}.")
    p = r.choice([x for x in FOOT_PLAYERS if x not in used])
    extra = r.choice([f"{p} was sent off on {r.randint(30, 88)} minutes for a second yellow.",
                      f"{p} hit the post in the {ordinal(r.randint(5, 89))} minute.",
                      f"{p} was booked for dissent just before half-time.",
                      f"{away} had a goal ruled out for offside on {r.randint(10, 85)} minutes.",
                      f"The home keeper {p} made a fine double save late on."])
    parts.append(extra)
    parts.append(f"Attendance: {r.randint(3, 41)},{r.randint(0, 999):03d}.")
    return " ".join(parts)


# ----------------------------------------------------------------- h08 scifi
def gen_scifi(r):
    ship = r.choice(["Meridian", "Halcyon Drift", "Vanta", "Perihelion", "Long Patience", "Ardent Echo", "Saros"])
    planet = r.choice(["Kepler-442b", "the ice moon Thessaly", "Gliese 581g", "a rogue planet with no name",
                       "the ring world of Oru", "Tau Ceti e", "the mining colony on Vesta"])
    problem = r.choice(["one engine dark", "its navigation core corrupted", "a hull breach on deck four",
                        "three sleepers in cryo who would not wake", "a distress beacon repeating an old date",
                        "its shields flickering"])
    cmdr = r.choice(["Ilse Varga", "Tomas Achebe", "Yun Seo-ra", "Marek Dolan", "Priya Castell"])
    android = r.choice(["XR-7", "Unit Halden", "SERA-2", "the android Cass", "Model 9 Tobit"])
    Android = android[0].upper() + android[1:]
    task = r.choice(["seal the reactor deck", "reboot the navigation core", "go down to the surface alone",
                     "decode the signal", "wake the sleepers by hand", "walk the hull and find the breach"])
    middle = r.sample([
        f"{Android} hesitated for 0.4 seconds, which for an android was a very long time.",
        "On the viewscreen the planet turned slowly, its clouds lit by a dying red sun.",
        "The ship's AI, who called herself Mother, warned that oxygen reserves would last nineteen hours.",
        "Something answered from the surface: a pattern of pulses, prime numbers, counting down.",
        "The plasma conduits hummed as the crew worked in silence.",
        "Gravity flickered twice; loose tools drifted past the airlock like slow fish.",
    ], r.choice([1, 2]))
    end = r.choice([f"When it was done, {android} asked a question no android had asked before: 'Was I afraid?'",
                    f"By ship's midnight the {ship} was underway again, carrying one passenger more than it had arrived with.",
                    f"Commander {cmdr.split()[-1]} logged the incident as routine. It was not.",
                    "Far behind them, the beacon went quiet.",
                    "Nobody on board ever mentioned the hour they lost."])
    return (f"The starship {ship} dropped out of hyperspace above {planet} with {problem}. "
            f"Commander {cmdr} ordered {android} to {task}. {' '.join(middle)} {end}")


# ---------------------------------------------------------------- h09 birds
BIRDS = [("Teal", 5, 80), ("Wigeon", 4, 60), ("Mallard", 2, 30), ("Little Egret", 1, 5), ("Grey Heron", 1, 4),
         ("Marsh Harrier", 1, 2), ("Snipe", 1, 12), ("Lapwing", 10, 200), ("Curlew", 2, 40), ("Redshank", 2, 25),
         ("Black-headed Gull", 10, 150), ("Goldfinch", 2, 30), ("Chiffchaff", 1, 6), ("Reed Bunting", 1, 8),
         ("Kingfisher", 1, 1), ("Cetti's Warbler", 1, 3), ("Great Crested Grebe", 1, 6), ("Coot", 4, 50),
         ("Tufted Duck", 2, 40), ("Buzzard", 1, 3), ("Kestrel", 1, 2), ("Skylark", 1, 10), ("Meadow Pipit", 2, 20),
         ("Fieldfare", 5, 120), ("Redwing", 5, 80), ("Long-tailed Tit", 3, 14), ("Bullfinch", 1, 4)]
BIRD_NOTES = ["(flyover)", "(pair)", "(calling)", "(flock)", "(distant)"]


def gen_birds(r):
    site = r.choice(["Marsh Lane hide", "Hollow Pond", "the estuary sea wall", "Coldharbour reservoir",
                     "Beacon Hill woods", "Saltings Point", "the old gravel pits"])
    start = r.choice([600, 630, 700, 715, 730, 800, 1400, 1530])
    dur = r.choice([90, 120, 135, 150, 180])
    sm = (start // 100) * 60 + start % 100 + dur
    end = (sm // 60) * 100 + sm % 60
    sky = r.choice(["overcast", "clear", "bright", "drizzle", "low cloud", "sunny spells", "mist clearing"])
    wind = r.choice(["light NW wind", "calm", "fresh SW wind", "moderate E wind", "gusty W wind"])
    picks = r.sample(BIRDS, r.randint(6, 9))
    entries = []
    for name, lo, hi in picks:
        c = r.randint(lo, hi)
        e = f"{name} {c}"
        if r.random() < 0.2:
            e += " " + r.choice(BIRD_NOTES[:1] + (["(pair)"] if c == 2 else []) + (["(flock)"] if c >= 10 else [])
                                 + ["(calling)", "(distant)"])
        entries.append(e)
    hl = r.choice(["Highlight: a Water Rail squealing from the ditch.", "Highlight: Barn Owl quartering the rough field.",
                   "Highlight: two Bearded Tits pinging in the reeds.", "Highlight: Peregrine stooping on the Lapwing flock, no kill.",
                   "Highlight: first Swallow of the year, low over the water.", "Quiet session, nothing unusual.",
                   "Highlight: Otter crossing the channel, briefly."])
    return (f"Field notes, {site}, {r.randint(1, 28)} {r.choice(MONTHS)}, {start:04d}-{end:04d}. "
            f"Weather: {sky}, {wind}, {r.randint(-2, 22)} C. {', '.join(entries)}. {hl} "
            f"Total {len(entries) + r.randint(8, 30)} species.")


# -------------------------------------------------------------- h10 weather
def gen_weather(r):
    day = r.choice(DAYS)
    p = r.randint(978, 1036)
    wet = r.random() < 0.7
    if wet:
        p = r.randint(975, 1008)
        syn = r.choice([
            "A cold front moves east across the region during the morning, bringing a band of heavy rain.",
            f"A deep low, central pressure {p - 12} hPa, tracks to the north, with tightening isobars.",
            "A warm front pushes in from the southwest overnight, with thickening cloud and drizzle.",
            "An occluded front lingers along the coast, giving persistent light rain.",
            "A slack northerly airflow brings scattered showers, some wintry on high ground.",
        ])
        a = r.choice(range(50, 100, 5))
        b = r.choice(range(10, 50, 5))
        precip = r.choice([f"Chance of rain {a} percent before noon, {b} percent later.",
                           f"Rainfall totals of {r.randint(2, 10)} to {r.randint(12, 30)} mm are likely.",
                           f"Chance of rain {a} percent, falling to {b} percent by evening."])
        press = r.choice([f" Pressure falls to {p} hPa by evening.", f" Pressure near {p} hPa, rising slowly after dark.", ""])
    else:
        p = r.randint(1018, 1038)
        syn = r.choice([f"High pressure of {p} hPa sits over the area, keeping things settled and mostly dry.",
                        f"A ridge of high pressure, {p} hPa, builds from the west behind yesterday's front.",
                        "A weak, dying front brings more cloud than rain."])
        a = r.choice(range(5, 30, 5))
        precip = r.choice([f"Fog patches clearing by 10:00; chance of showers {a} percent.",
                           f"Chance of rain only {a} percent.", f"Dry for most, chance of a stray shower {a} percent."])
        press = r.choice([f" Pressure steady near {p} hPa.", ""])
    dirs = ["north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest"]
    lo_w = r.randint(10, 30)
    wind = f"Winds {r.choice(dirs)} {lo_w} to {lo_w + r.randint(10, 20)} km/h, gusting {lo_w + r.randint(25, 45)} on exposed coasts."
    hi_t = r.randint(-2, 27)
    temps = f"Highs {hi_t} C, lows {hi_t - r.randint(4, 10)} C."
    outlook = r.choice(["Outlook: turning drier from Thursday as pressure rises.", "Outlook: unsettled into the weekend.",
                        "UV index low. Pollen moderate.", "Outlook: frost likely in sheltered valleys.",
                        "Outlook: another front arrives late on Saturday.", "Outlook: warmer, 70 percent chance of sunshine."])
    return f"Forecast for {day}: {syn}{press} {precip} {wind} {temps} {outlook}"


# --------------------------------------------------------------- h11 python
PY_POSTS = [
    ("reversing a string", 's = "hello"\n# slicing with a step of -1 walks backwards\nprint(s[::-1])  # olleh\n\n'
     'def is_palindrome(word):\n    word = word.lower()\n    return word == word[::-1]',
     "Works on lists and tuples too; reversed() gives you a lazy iterator instead."),
    ("counting words", 'from collections import Counter\n\ntext = "the cat and the hat"\n# split on whitespace and count\n'
     "counts = Counter(text.split())\nprint(counts.most_common(2))", "most_common() returns (word, count) pairs."),
    ("reading a file line by line", 'with open("notes.txt") as f:\n    for line in f:\n        # strip the trailing newline\n'
     "        print(line.rstrip())", "The with block closes the file for you, even on errors, and the loop reads lazily."),
    ("inverting a dict", 'ages = {"ann": 31, "bob": 27}\n# swap keys and values\nby_age = {v: k for k, v in ages.items()}\n'
     "print(by_age)  # {31: 'ann', 27: 'bob'}", "Careful: duplicate values collapse into one key, and the last one wins."),
    ("enumerate from 1", 'names = ["ann", "bob", "cy"]\n# start counting at 1 for humans\nfor i, name in enumerate(names, start=1):\n'
     '    print(i, name)', "No more range(len(...)) and no off-by-one errors in your printed lists."),
    ("pairing two lists with zip", 'keys = ["a", "b", "c"]\nvals = [1, 2, 3]\n# zip stops at the shorter list\n'
     "pairs = dict(zip(keys, vals))\nprint(pairs)", "Use strict=True in 3.10+ to catch length mismatches instead of silently dropping items."),
    ("formatting floats", "price = 3.14159\n# two decimals, padded to width 8\nprint(f\"{price:8.2f}\")\n"
     "print(f\"{0.256:.1%}\")  # 25.6%", "The format mini-language is worth ten minutes of your time; the ',' option adds thousands separators."),
    ("sorting dicts by a field", 'people = [{"name": "ann", "age": 31}, {"name": "bob", "age": 27}]\n'
     '# sort by age, youngest first\npeople.sort(key=lambda p: p["age"])', "operator.itemgetter(\"age\") does the same, slightly faster."),
    ("finding files with pathlib", "from pathlib import Path\n\n# every .txt file below the current folder\n"
     'for p in Path(".").rglob("*.txt"):\n    print(p, p.stat().st_size)', "Path objects beat string juggling with os.path."),
    ("grouping with defaultdict", 'from collections import defaultdict\n\nwords = ["apple", "avocado", "banana"]\n'
     "groups = defaultdict(list)\nfor w in words:\n    # group by first letter\n    groups[w[0]].append(w)",
     "No KeyError, no setdefault dance."),
    ("any and all", "nums = [2, 4, 6, 7]\n# True if at least one is odd\nprint(any(n % 2 for n in nums))\n"
     "# True only if every one is even\nprint(all(n % 2 == 0 for n in nums))", "Both short-circuit, so they stop early."),
    ("a tiny dataclass", "from dataclasses import dataclass\n\n@dataclass\nclass Point:\n    x: float\n    y: float = 0.0\n\n"
     "# __init__, __repr__ and __eq__ come for free\nprint(Point(1.5))", "Add frozen=True to make it hashable."),
    ("timing a block of code", "import time\n\nstart = time.perf_counter()\n# the work you want to measure\n"
     "total = sum(i * i for i in range(10**6))\nprint(f\"{time.perf_counter() - start:.3f} s\")",
     "perf_counter is monotonic; time.time is not."),
    ("chunking a list", "def chunks(xs, n):\n    # yield successive n-sized slices\n    for i in range(0, len(xs), n):\n"
     "        yield xs[i:i + n]\n\nprint(list(chunks(list(range(7)), 3)))", "Python 3.12 adds itertools.batched for this."),
    ("flattening a list of lists", "nested = [[1, 2], [3], [4, 5]]\n# one level only\nflat = [x for row in nested for x in row]\n"
     "print(flat)  # [1, 2, 3, 4, 5]",
     "Read the comprehension left to right, like nested for loops. For deeper nesting, reach for recursion."),
    ("dropping duplicates, keeping order", 'items = ["b", "a", "b", "c", "a"]\n# dicts keep insertion order\n'
     "unique = list(dict.fromkeys(items))\nprint(unique)  # ['b', 'a', 'c']", "set() would lose the order; this trick needs Python 3.7 or newer."),
    ("pretty JSON", 'import json\n\ndata = {"name": "ann", "tags": ["x", "y"]}\n# indent and sort for readable diffs\n'
     "print(json.dumps(data, indent=2, sort_keys=True))", "Great for config files kept in git, because the key order never changes between runs."),
    ("a minimal CLI with argparse", "import argparse\n\nparser = argparse.ArgumentParser()\n"
     'parser.add_argument("name")\nparser.add_argument("--times", type=int, default=1)\nargs = parser.parse_args()\n'
     "print(args.name * args.times)", "You get --help for free."),
    ("memoising with lru_cache", "from functools import lru_cache\n\n@lru_cache(maxsize=None)\ndef fib(n):\n"
     "    # each n is computed once\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\nprint(fib(80))",
     "Without the cache this would never finish."),
    ("itertools.groupby", "from itertools import groupby\n\nlog = \"aaabccdd\"\n# groupby only merges adjacent runs\n"
     "print([(k, len(list(g))) for k, g in groupby(log)])", "Sort first if you want global groups, using the same key you pass to groupby."),
    ("merging dicts", 'defaults = {"color": "red", "size": 2}\nuser = {"size": 5}\n# right-hand side wins (3.9+)\n'
     "merged = defaults | user\nprint(merged)  # {'color': 'red', 'size': 5}",
     "Use |= to update in place. On older versions, {**defaults, **user} does the same job."),
    ("the walrus operator", 'with open("big.bin", "rb") as f:\n    # assign and test in one go\n'
     "    while chunk := f.read(4096):\n        print(len(chunk))", "Handy in while loops and comprehensions; elsewhere it mostly hurts readability."),
    ("try, except, else", "try:\n    n = int(\"42\")\nexcept ValueError:\n    print(\"not a number\")\nelse:\n"
     "    # runs only if nothing was raised\n    print(n + 1)", "Keep the try block as small as possible so you only catch what you meant to."),
    ("set operations", "a = {1, 2, 3}\nb = {2, 3, 4}\nprint(a & b)  # intersection\nprint(a | b)  # union\n"
     "print(a - b)  # difference\nprint(a ^ b)  # in one but not both",
     "Membership tests on sets are O(1) on average, so convert big lists before looping."),
]


def make_python_gen():
    order = list(range(len(PY_POSTS)))
    state = {"order": None}

    def gen_python(r):
        if state["order"] is None:
            state["order"] = order[:]
            r.shuffle(state["order"])
        title, code, remark = PY_POSTS[state["order"].pop()]
        for _ in range(100):
            intro = r.choice([f"Quick tip: {title}.", f"Today's snippet: {title}.", f"Small one today: {title}.",
                              f"TIL-style note on {title}."])
            outro = r.choice(["", " Try it in the REPL.", " Happy hacking.", " Short and readable, which is the point.",
                              " Paste it into the REPL and poke at it.", " More small ones next week."])
            text = f"{intro}\n\n{code}\n\n{remark}{outro}"
            if MIN_LEN <= len(text) <= MAX_LEN:
                return text
        raise RuntimeError(f"python post out of range: {title}")

    return gen_python


# ---------------------------------------------------------------- h12 ballad
def gen_ballad(r):
    knight = r.choice(["Aldric", "Osric", "Gawen", "Edric", "Rowan", "Baldwin", "Emeric", "Alard"])
    place = r.choice(["the Vale", "Wendmere", "Ashcombe", "the Northern March", "Ravensholt", "Thornbury"])
    steed = r.choice(["grey", "dappled", "coal-black", "milk-white", "bay", "chestnut"])
    quest = r.choice(["seek the lady Elspeth fair", "slay the wyrm of Harrow Fen", "find the chalice lost at sea",
                      "win the crown of Carrowmore", "avenge his father slain", "free the maidens of the tower"])
    foe = r.choice(["wyrm", "giant", "black knight", "witch of the wold", "wolf-king", "grey ferryman"])
    lady = r.choice(["Elspeth", "Maud", "Isolde", "Rosamund", "Aveline"])
    opening = r.choice(["Hark, good folk, and lend thine ear,", "Come gather close, ye lords and maids,",
                        "Now list ye well, and hold thy tongue,", "O sing of old, when kings were young,"])
    middle = r.sample([
        f"The {foe} did rise from the mere so deep,\nand cried, 'What seekest thou, sir knight?'",
        f"He drew his blade of silver bright\nand smote the {foe} in the failing light.",
        "'Turn back, turn back,' the crone did say,\n'for thy true love is far away.'",
        f"'I fear thee not,' Sir {knight} replied,\n'for God and {lady} ride at my side.'",
        "Three nights he rode through rain and sleet,\nwith naught but heather for his meat.",
        f"'Thy ring, sir knight, I know it well,'\nquoth {lady} from her lonely cell.",
    ], 2)
    refrain = r.choice(["Sing hey, the wind upon the moor,\nand woe betide thee evermore.",
                        "With a hey and a ho and a rowan tree,\nthe good Lord keep both thee and me.",
                        "Lament, lament, ye hills of green,\nfor such a knight was never seen."])
    close = r.choice(["And there he lies 'neath the old yew tree,\nso pray for him, and pray for thee.",
                      f"So home he came to {place} at last,\nand all his sorrows overpast.",
                      f"And {lady} weeps at her window still,\nfor him who sleeps beneath the hill."])
    stanza1 = f"{opening}\nand hear of Sir {knight} of {place},\nwho rode at dawn on his {steed} steed\nto {quest}."
    blocks = [stanza1, middle[0], middle[1], refrain, close]
    if r.random() < 0.4:
        blocks.remove(middle[1])
    return "\n\n".join(blocks)


# ---------------------------------------------------------- special documents
CO_OWNED = [
    {"holders": [{"id": "h01", "share": 0.5}, {"id": "h04", "share": 0.5}], "license": "CC-BY-4.0",
     "source": "https://example.org/logbooks/kestrel/entry-chess-at-sea",
     "text": ("Log, 9 Aug. 1400: Becalmed, sea glassy, barometer 1021 hPa, steady. Mate and I played chess on the "
              "chart table. After 1.e4 e5 2.Nf3 Nc6 3.Bb5 a6 4.Ba4 Nf6 5.O-O Be7 we reach the Ruy Lopez. "
              "The critical moment came with 23.Nf5!, a bold knight sacrifice on the kingside. 1730: Breeze from "
              "the SW, 8 knots. Black resigned on move 31. All well.")},
    {"holders": [{"id": "h02", "share": 0.6}, {"id": "h07", "share": 0.4}], "license": "CC-BY-SA-4.0",
     "source": "https://bakehouse.example.com/recipes/matchday-pies",
     "text": ("Matchday steak pies. Rub 125 g cold butter into 250 g plain flour, bring together with 3 tbsp cold water "
              "and chill for 30 minutes. Fill, crimp and bake at 200 C for 35 minutes. Harbour City 2-1 Northgate Rovers: "
              "Okafor headed in a corner on 12 minutes, Silva converted a penalty in the 38th minute, and Brandt "
              "won it deep into stoppage time, 90+3. Attendance: 18,402.")},
]
UNKNOWN = [
    {"holders": [], "license": "unknown", "source": "unknown",
     "text": ("log 2 sept. 0500 wind W 18 knots sea rough. 0700 reefed main, course 190 true, 5 knots. "
              "0930 sighted a light bearing 080 maybe 6 nm, could not identify. 1200 bilge pumped 30 strokes, "
              "wet everywhere. 1600 anchored in some bay, 4 fathoms mud. tired. (copied from a scanned notebook, "
              "owner not known)")},
    {"holders": [], "license": "unknown", "source": "unknown",
     "text": ("Come listen all, both young and old,\nto a tale of a knight so brave and bold,\nwho rode upon his "
              "steed so grey\nto seek his love that was stolen away.\n\n'Thy sword,' she said, 'is broke in twain,'\n"
              "'then I shall fight with my hands again.'\n\n(found on a forum, author unknown)")},
]


def draw(gen, r, seen, what):
    """A new text from ``gen`` of the allowed length, not drawn before (added to ``seen``)."""
    for _attempt in range(1000):
        text = gen(r)
        if MIN_LEN <= len(text) <= MAX_LEN and text not in seen:
            seen.add(text)
            return text
    raise RuntimeError(f"could not generate {what}")


def main():
    r = random.Random(SEED)
    gens = {"h01": gen_sailor, "h02": gen_baker, "h03": gen_haiku, "h04": gen_chess, "h05": gen_garden,
            "h06": gen_legal, "h07": gen_football, "h08": gen_scifi, "h09": gen_birds, "h10": gen_weather,
            "h11": make_python_gen(), "h12": gen_ballad}
    seen = set()
    docs = []
    for hid, *_ in HOLDERS:
        lic_main, lic_exc, base, slug = META[hid]
        for i in range(COUNTS[hid]):
            text = draw(gens[hid], r, seen, f"a document for {hid}")
            docs.append({"text": text, "holders": [{"id": hid, "share": 1.0}],
                         "license": lic_exc.get(i, lic_main), "source": f"{base}/{slug}-{i + 1:03d}",
                         "opt_out": (hid, i) in OPT_OUT})
    for d in CO_OWNED + UNKNOWN:
        docs.append({"text": d["text"], "holders": d["holders"], "license": d["license"],
                     "source": d["source"], "opt_out": False})
    r.shuffle(docs)

    with open(os.path.join(HERE, "corpus.jsonl"), "w", encoding="ascii", newline="\n") as f:
        for n, d in enumerate(docs, start=1):
            rec = {"id": f"doc-{n:04d}", "text": d["text"], "holders": d["holders"], "license": d["license"],
                   "source": d["source"], "opt_out": d["opt_out"]}
            f.write(json.dumps(rec, ensure_ascii=True) + "\n")

    with open(os.path.join(HERE, "holders.csv"), "w", encoding="ascii", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["holder_id", "name", "contact", "country"])
        w.writerows(HOLDERS)

    with open(os.path.join(HERE, "generations.jsonl"), "w", encoding="ascii", newline="\n") as f:
        for g in GENERATIONS:
            f.write(json.dumps(g, ensure_ascii=True) + "\n")

    # reference texts (data.reference): one held-out text per holder's style, never trained or paid; drawn after
    # everything above, so adding them changed none of the other files' bytes
    with open(os.path.join(HERE, "reference.jsonl"), "w", encoding="ascii", newline="\n") as f:
        for hid, *_ in HOLDERS:
            text = draw(gens[hid], r, seen, f"a reference text for {hid}")
            f.write(json.dumps({"id": f"ref-{hid}", "prompt": "", "completion": text}, ensure_ascii=True) + "\n")


# ----------------------------------------------------------------- generations
# gen-001..005 imitate one holder each; gen-006..008 mix two holders.
GENERATIONS = [
    {"id": "gen-001", "prompt": "Log, 21 Jun. 0600: Wind",
     "completion": (" NW 14 knots, sea moderate. Barometer 1009 hPa, falling slowly. 0830: Reefed main. "
                    "1100: Tacked onto starboard. 1400: Anchored in Seal Cove, 5 fathoms, sand. All well."),
     "revenue": "12.50"},  # h01 sailor
    {"id": "gen-002", "prompt": "Honey oat loaf. Mix 400 g strong white flour,",
     "completion": (" 100 g rolled oats, 8 g salt and 7 g dried yeast. Add 320 ml warm water and knead for "
                    "10 minutes. Prove for 60 minutes, then bake at 210 C for 30 minutes."),
     "revenue": "7.25"},  # h02 baker
    {"id": "gen-003", "prompt": "Round 7, Haldane vs. Moreau. After 1.e4 c5 2.Nf3",
     "completion": (" d6 3.d4 cxd4 4.Nxd4 Nf6 5.Nc3 a6 we reach the Najdorf Sicilian. The critical moment "
                    "came with 22...Bxe5+!, a bold exchange that opened the king."),
     "revenue": "31.80"},  # h04 chess
    {"id": "gen-004", "prompt": "Field notes, Hollow Pond, 12 Oct, 0700-0930.",
     "completion": (" Weather: overcast, light NW wind, 9 C. Teal 36, Wigeon 14, Little Egret 2, Grey Heron 1, "
                    "Snipe 4 (calling). Highlight: Kingfisher on the sluice. Total 24 species."),
     "revenue": "4.99"},  # h09 birds
    {"id": "gen-005", "prompt": "Quick tip: counting words in a string.",
     "completion": ("\n\nfrom collections import Counter\n\n# split on whitespace and count\n"
                    "counts = Counter(text.split())\nprint(counts.most_common(3))\n\nTry it in the REPL."),
     "revenue": "18.00"},  # h11 python
    {"id": "gen-006", "prompt": "Log, 4 Mar. 0700: Wind SW 10 knots. Galley:",
     "completion": (" mixed 500 g strong white flour, 8 g salt, 7 g dried yeast. 0930: Tacked onto starboard, "
                    "dough proving by the stove. 1200: Baked at 220 C for 30 minutes. All well."),
     "revenue": "25.40"},  # h01 sailor + h02 baker
    {"id": "gen-007", "prompt": "Hark, good folk, and hear of Harbour City,",
     "completion": ("\nwho met the Rovers on the green;\nin the 12th minute Sir Okafor smote the ball,\n"
                    "and thy keeper wept. Two goals to one,\nand woe betide thee evermore."),
     "revenue": "9.75"},  # h12 ballad + h07 football
    {"id": "gen-008", "prompt": "Forecast for Sunday, in three short lines:",
     "completion": ("\n\na cold front at dawn\nrain chance eighty percent now\nhighs of nine, gusts strong\n\n"
                    "Pressure falls to 996 hPa. Outlook: turning drier from Tuesday."),
     "revenue": "38.10"},  # h10 weather + h03 haiku
]


if __name__ == "__main__":
    main()
