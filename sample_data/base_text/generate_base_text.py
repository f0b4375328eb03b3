#!/usr/bin/env python3
"""Generate generic everyday-English pre-training text for the attrib base model.

All sentences and templates below were written by hand for this purpose. The
text deliberately avoids the subjects and styles of the sample rights holders
(sailing, baking, haiku, chess, gardening, legal text, football, science
fiction, birdwatching, weather forecasts, programming and ballads) so that
whatever a fine-tuned model learns about those subjects can be attributed to
the holders rather than to the base text.

Deterministic (fixed seed), standard library only. Usage:

    python sample_data/base_text/generate_base_text.py

writes base_text.txt next to this script (about 300 KB, ASCII only).
"""

import os
import random
import re

SEED = 20240601
TARGET_CHARS = 300_000
OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "base_text.txt")


def lines(block):
    """Split a triple-quoted bank into a list of non-empty stripped lines."""
    return [ln.strip() for ln in block.strip().splitlines() if ln.strip()]


# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------

NAMES_F = lines("""
Anna
Maria
Sarah
Emily
Grace
Helen
Laura
Rachel
Nina
Priya
Aisha
Chloe
Ruth
Megan
Lucy
Hannah
Julia
Fatima
Rosa
Kate
Zoe
Amy
Leah
Mei
Sofia
Olivia
Clara
Irene
Diana
Tara
Eva
Jess
Naomi
Beth
Yasmin
Ines
""")

NAMES_M = lines("""
David
James
Tom
Daniel
Omar
Peter
Sam
Ben
Lucas
Raj
Michael
Paul
Adam
Mark
Leo
Hassan
Ivan
Noah
Ethan
Simon
Carlos
Kevin
Joe
Alex
Hugo
Felix
Victor
Chris
Tariq
Owen
Martin
Ryan
Luis
Kofi
Neil
Andrew
""")

SURNAMES = lines("""
Patel
Brown
Smith
Garcia
Nguyen
Kowalski
Jones
Okafor
Martin
Lee
Murphy
Fischer
Rossi
Khan
Evans
Walsh
Silva
Clarke
Hughes
Moreno
Novak
Ahmed
Bennett
Reid
Turner
Costa
Dunn
Wright
""")

RELATIVES = lines("""
aunt
uncle
sister
brother
cousin
grandmother
grandfather
mother
father
niece
nephew
mother-in-law
father-in-law
stepbrother
stepsister
godmother
""")

CITIES = lines("""
Leeds
Dublin
Toronto
Madrid
Chicago
Melbourne
Lyon
Manchester
Denver
Glasgow
Bristol
Boston
Phoenix
Cardiff
Birmingham
Ottawa
Vienna
Prague
Warsaw
Nottingham
Sheffield
Edinburgh
Seattle
Atlanta
Krakow
Milan
Porto
Leicester
York
Oxford
Cambridge
Dallas
""")

STREETS = lines("""
Station Road
Elm Street
Church Lane
the High Street
Park Avenue
Mill Road
Queen Street
Victoria Road
Hill Street
Bridge Street
Albert Road
North Street
Grove Lane
York Street
School Lane
Market Street
Chapel Road
New Road
Oak Avenue
Green Lane
""")

SHOPS = lines("""
the supermarket
the corner shop
the chemist
the hardware store
the butcher's
the greengrocer
the bookshop
the market
the shoe shop
the department store
the pharmacy
the newsagent
the electronics store
the charity shop
the stationery shop
the furniture shop
the opticians
the toy shop
the off-licence
the discount store
""")

PLACES = lines("""
the library
the post office
the bank
the dentist
the doctor's surgery
the town hall
the swimming pool
the cinema
the museum
the park
the train station
the hospital
the community centre
the leisure centre
the dry cleaner's
the cafe on the corner
the council office
the launderette
the bus station
the shopping centre
the art gallery
the health centre
""")

ROOMS = lines("""
kitchen
living room
bedroom
bathroom
hallway
spare room
study
attic
dining room
utility room
box room
""")

CHORES = lines("""
do the laundry
wash the dishes
vacuum the living room
clean the bathroom
take out the rubbish
change the bed sheets
tidy the kitchen
iron the shirts
dust the shelves
sort the post
defrost the freezer
clean the windows
empty the dishwasher
fold the towels
mop the hallway floor
clear out the cupboard under the stairs
pay the electricity bill
fix the squeaky door
descale the kettle
wipe down the fridge
sort the recycling
polish the shoes
hang up the washing
replace the light bulb in the hall
scrub the cooker
organise the bookshelf
water the houseplants
""")

SUBJECTS = lines("""
maths
history
geography
English
French
Spanish
German
biology
chemistry
physics
art
music
drama
economics
religious studies
design and technology
""")

JOBS = lines("""
nurse
teacher
bus driver
accountant
shop assistant
pharmacist
electrician
librarian
dentist
receptionist
plumber
engineer
journalist
architect
hairdresser
social worker
mechanic
translator
paramedic
optician
estate agent
carpenter
office manager
travel agent
""")

TRANSPORT = lines("""
the bus
the train
the tram
a taxi
the early bus
the underground
the local train
the express train
the shuttle bus
""")

FEELINGS = lines("""
tired
happy
relieved
nervous
pleased
surprised
bored
excited
worried
calm
grateful
annoyed
proud
confused
hopeful
cheerful
restless
embarrassed
""")

HOBBIES = lines("""
reading
cycling
painting
knitting
swimming
running
photography
drawing
playing the guitar
playing the piano
learning Spanish
hiking
yoga
pottery
dancing
sewing
doing jigsaw puzzles
writing letters
learning Italian
singing in a choir
collecting stamps
woodwork
""")

DRINKS = lines("""
tea
coffee
hot chocolate
herbal tea
milky coffee
green tea
peppermint tea
decaf coffee
""")

MEALS = lines("""
breakfast
lunch
dinner
supper
""")

DISHES = lines("""
a sandwich
vegetable soup
pasta with tomato sauce
a green salad
rice and beans
an omelette
cheese on toast
porridge
noodles
a vegetable curry
fish and chips
a bowl of stew
a takeaway pizza
scrambled eggs
a jacket potato
chicken and rice
a wrap
lentil soup
""")

FOODS = lines("""
milk
eggs
rice
pasta
apples
bananas
cheese
butter
tomatoes
potatoes
onions
yogurt
cereal
orange juice
tea bags
coffee
tinned soup
chicken
carrots
beans
crackers
bread
grapes
lemons
peppers
cucumber
frozen peas
oats
jam
peanut butter
mushrooms
garlic
""")

ITEMS = lines("""
a new kettle
a pack of batteries
a light bulb
a roll of tape
a bottle of washing-up liquid
a doormat
a set of towels
a laundry basket
a phone charger
a pair of scissors
an extension cable
a bath mat
a toothbrush
a notebook
an umbrella
a torch
a mop
a box of bin bags
a box of tissues
a desk lamp
a picture frame
a spare key
a clothes horse
a shower curtain
a set of coat hangers
a reading lamp
a wall clock
a first-aid kit
a padlock
a tape measure
a water bottle
a shoe rack
""")

CLOTHING = lines("""
a coat
a jumper
a pair of jeans
a scarf
a pair of trainers
a shirt
a dress
a pair of gloves
a hat
a pair of boots
a jacket
a cardigan
a pair of sandals
a hoodie
a tie
a skirt
""")

COLOURS = lines("""
red
blue
green
yellow
grey
black
white
brown
orange
purple
navy
pale pink
dark green
cream
""")

COMPANIES = lines("""
Northfield Supplies
Carter and Sons
Maple Print
Redhill Insurance
Sunrise Travel
Westgate Furniture
Parkside Books
Clearview Cleaning
Hartley Office Services
Bluebell Care
Ridgeway Removals
Cornerstone Lettings
Brookside Pharmacy
Summit Recruitment
Lakeview Hotel
Fairfield Printing
""")

DEPTS = lines("""
accounts
sales
customer service
human resources
marketing
the warehouse
reception
payroll
the front desk
facilities
purchasing
""")

TASKS = lines("""
the monthly report
the sales figures
the new price list
the staff rota
the training day
the budget
the customer survey
the office move
the quarterly review
the holiday schedule
the stock check
the team newsletter
the supplier invoices
the induction pack
the meeting notes
the travel bookings
the annual appraisal forms
the fire drill
the parking permits
""")

COUNTRIES = lines("""
France
Spain
Canada
Japan
Kenya
Brazil
India
Italy
Mexico
Norway
Portugal
Ireland
Greece
Peru
Vietnam
Poland
Austria
Chile
Thailand
Morocco
""")

DAYS = lines("""
Monday
Tuesday
Wednesday
Thursday
Friday
Saturday
Sunday
""")

MONTHS = lines("""
January
February
March
April
May
June
July
August
September
October
November
December
""")

NUMBER_WORDS = lines("""
two
three
four
five
six
seven
eight
nine
ten
eleven
twelve
""")

ORDINALS = lines("""
first
second
third
fourth
fifth
sixth
seventh
eighth
""")

GOOD_ADJ = lines("""
lovely
pleasant
useful
friendly
helpful
relaxing
interesting
quiet
cheerful
comfortable
""")

BAD_ADJ = lines("""
tiring
noisy
confusing
frustrating
boring
crowded
stressful
awkward
slow
messy
""")

# (country, capital, continent, language phrase) - checked to be correct.
GEO = [
    ("France", "Paris", "Europe", "French"),
    ("Spain", "Madrid", "Europe", "Spanish"),
    ("Italy", "Rome", "Europe", "Italian"),
    ("Germany", "Berlin", "Europe", "German"),
    ("Portugal", "Lisbon", "Europe", "Portuguese"),
    ("Greece", "Athens", "Europe", "Greek"),
    ("Norway", "Oslo", "Europe", "Norwegian"),
    ("Sweden", "Stockholm", "Europe", "Swedish"),
    ("Poland", "Warsaw", "Europe", "Polish"),
    ("Austria", "Vienna", "Europe", "German"),
    ("Hungary", "Budapest", "Europe", "Hungarian"),
    ("Ireland", "Dublin", "Europe", "English"),
    ("Japan", "Tokyo", "Asia", "Japanese"),
    ("Thailand", "Bangkok", "Asia", "Thai"),
    ("Vietnam", "Hanoi", "Asia", "Vietnamese"),
    ("South Korea", "Seoul", "Asia", "Korean"),
    ("India", "New Delhi", "Asia", "Hindi"),
    ("Egypt", "Cairo", "Africa", "Arabic"),
    ("Kenya", "Nairobi", "Africa", "Swahili"),
    ("Morocco", "Rabat", "Africa", "Arabic"),
    ("Nigeria", "Abuja", "Africa", "English"),
    ("Canada", "Ottawa", "North America", "English"),
    ("Mexico", "Mexico City", "North America", "Spanish"),
    ("Brazil", "Brasilia", "South America", "Portuguese"),
    ("Argentina", "Buenos Aires", "South America", "Spanish"),
    ("Peru", "Lima", "South America", "Spanish"),
    ("Chile", "Santiago", "South America", "Spanish"),
    ("Australia", "Canberra", "Australia", "English"),
]


# ---------------------------------------------------------------------------
# Sentence banks.  Slots: {Name}/{name} is the paragraph's main person and
# {He} {he} {him} {his} {His} {himself} are that person's pronouns; {name2}
# and {name3} are other people.  Other slots are drawn fresh per sentence.
# ---------------------------------------------------------------------------

NARRATION = lines("""
{Name} woke up earlier than usual and lay still for a moment, listening to the quiet house.
After a quick shower, {he} made a cup of {drink} and sat down at the kitchen table.
The kettle took a long time to boil, so {name} read the back of the cereal box while {he} waited.
On {day} morning, {name} left the house at {time} with {his} keys in one hand and {his} phone in the other.
{He} remembered halfway down the street that {he} had left {item} on the kitchen counter.
By the time {name} reached the corner, the bus had already gone.
{Name} decided to walk instead, which took about {minutes} minutes.
It was the kind of morning when everything seems to take a little longer than planned.
{His} {rel} called just after {time} to ask whether {he} was still coming for {meal} on {day2}.
"Of course," {name} said, although {he} had almost forgotten.
{Name} spent most of the afternoon sorting through old papers in the {room}.
Among the bills and receipts, {he} found a postcard that {his} {rel} had sent from {city} years ago.
{He} put it aside to show {name2} later.
That evening, {name} made {dish} and ate it in front of the television.
{He} went to bed at a reasonable hour for once and slept well.
The next day started badly: the alarm did not go off, and there was no milk left.
{Name} had promised to help {name2} move a sofa, so {he} arrived at {time} as agreed.
The sofa was heavier than it looked, and at first it would not fit through the front door.
After a lot of turning and tilting, they finally got it into the {room}.
{name2} made everyone a cup of {drink} to say thank you.
{Name} had lived on {street} for {n} years and knew most of the neighbours by name.
The woman at number {n2} always waved when {name} walked past.
One {day}, {name} noticed a small notice taped to a lamp post about a lost cat.
{He} took a photo of it, just in case.
Two days later, {he} saw a grey cat sitting on a wall near {place}.
{He} called the number on the notice, and the owner came to collect it within half an hour.
The owner was so grateful that she brought round a box of chocolates the next day.
{Name} had never been very good at saying no, which is how {he} ended up organising the street party.
{He} made a list, borrowed some folding tables and asked everyone to bring something to share.
In the end, more than {n2} people came, and nobody wanted to go home.
When {name} was {age}, {his} family moved from {city} to a smaller town.
At first {he} missed {his} old friends, but {he} soon made new ones at school.
{His} best friend in those days was a boy called {name3}, who lived two doors down.
They spent whole afternoons riding their bikes up and down the same street.
Years later, {name} still thought about that street whenever {he} smelled freshly cut grass.
{Name} found an old photo album at the back of a drawer and sat down to look through it.
Most of the pictures were faded, but a few were still sharp and bright.
In one of them, {his} {rel} was standing outside a house {name} did not recognise.
{He} made a note to ask about it the next time they spoke.
The train was late again, so {name} bought a cup of {drink} and found a seat on the platform.
A man next to {him} was trying to read a very large newspaper in a very small space.
When the train finally arrived, it was so full that {name} had to stand all the way to {city}.
{Name} was not a morning person, and everyone at home knew it.
{He} needed at least one cup of {drink} before {he} could hold a proper conversation.
On {day}, {name} finally went to the bank to sort out the problem with {his} account.
The queue was long, and the person at the counter looked as tired as {name} felt.
After twenty minutes of forms and signatures, everything was fixed.
{Name} walked home the long way, through the park, because {he} was in no hurry.
There were children on the swings and an old man reading a newspaper.
For a few minutes, {he} simply sat on a bench and did nothing at all.
It had been a long week, and {name} was looking forward to a quiet weekend.
{He} had no plans apart from sleeping late and perhaps going for a walk.
On {day} evening, {name2} phoned to ask if {name} wanted to go to the cinema.
They saw a comedy that was much funnier than either of them had expected.
Afterwards they shared a pizza and talked about nothing in particular until late.
{Name} had been meaning to learn to drive for years.
{He} booked {his} first lesson for {day} at {time} and felt nervous all morning.
The instructor, a patient person called {name3}, told {him} to relax and check the mirrors.
By the end of the hour, {name} had driven around the car park {nw} times without stalling.
{He} was surprisingly proud of that.
{Name} bought a second-hand bike for {price_big} and rode it to work the following week.
The brakes squeaked and the seat was too low, but it did the job.
A week later, {he} took it to a repair shop, and it came back almost like new.
Every {day}, {name} visited {his} {rel}, who lived alone in a flat near {place}.
They drank {drink}, talked about the family and watched the quiz shows on television.
{His} {rel} always insisted on sending {him} home with something, usually a jar of jam or a bag of apples.
When the power went out on {day} evening, {name} lit a few candles and found the torch.
The street was completely dark, and it was strangely quiet.
The lights came back on after about an hour, just as {he} was starting to enjoy it.
{Name} had lost {his} keys twice in one week.
The first time they were in {his} coat pocket, and the second time they were in the fridge.
After that, {he} bought a small hook and put it by the front door.
{Name} started a new job on {day}, {date}.
On the first morning, {he} arrived {minutes} minutes early and waited outside the building.
{His} new manager, {name2}, showed {him} around and introduced {him} to the team.
By lunchtime, {name} had forgotten nearly everyone's name, which {he} admitted with a laugh.
Everyone was friendly, and the first week went by quickly.
It was {name2}'s birthday, and {name} had completely forgotten.
{He} rushed to {shop} during {his} lunch break and bought a card and a small present.
{name2} pretended not to notice that the envelope was slightly creased.
The neighbours' dog barked every time the post arrived, which was usually around {time}.
{Name} had got used to it and now used it as a kind of alarm clock.
When the dog went away for a week, {name} overslept twice.
{Name} and {name2} had known each other since primary school.
They did not see each other often now, but when they did, it was as if no time had passed.
They met for coffee in {city} and talked for almost three hours.
{Name} decided that this would be the year {he} finally cleared out the {room}.
{He} filled {nw} bags with things to give away and one large bag of rubbish.
It felt good to see the floor again.
On the way home, {name} stopped at the corner shop for {food} and {food2}.
{He} also picked up {item}, which {he} had been meaning to buy for weeks.
At the checkout, {he} realised {he} had left {his} wallet at home.
The cashier kindly kept the shopping behind the counter while {he} went back for it.
{Name} had a habit of writing lists and then losing them.
{He} once found a shopping list from three years earlier inside a library book.
It said "{food}, {food2}, batteries, call {name2}".
{He} could not remember whether {he} had ever called.
{Name} was {age} years old and had worked as a {job} for most of {his} adult life.
{He} liked the work, even on the difficult days.
What {he} enjoyed most was meeting so many different people.
After {his} shift, {he} usually walked home and listened to the radio while making {meal}.
The house was very quiet after everyone had left for the day.
{Name} put on some music, opened the windows and started to {chore}.
By {time}, the whole place looked much better.
{Name} had never been abroad until {he} was {age2}.
{His} first trip was to {country}, where {he} stayed with a friend for {nw} days.
{He} was amazed by how different everything seemed, even the supermarkets.
When {he} came home, {he} immediately started planning the next trip.
{Name} had a small flat on the {ordinal} floor with a view of the car park.
It was not much, but it was warm and close to the station.
{He} had painted the walls {colour} and filled the shelves with second-hand books.
The washing machine made a strange noise during the spin cycle.
{Name} looked up the problem online and found that a coin was probably stuck in the drum.
{He} was right; it was a small coin that had slipped out of a pocket.
{Name} was always the first to arrive at family gatherings and the last to leave.
{He} liked to help in the kitchen, mostly so {he} could taste everything.
{His} {rel} would chase {him} out with a tea towel, laughing.
{name2} lent {name} a novel and said, "You will love it, I promise."
{Name} did not love it, but {he} read it to the end anyway.
When {he} gave it back, {he} said it was "interesting", which was true.
There was a small cafe near {place} where {name} liked to sit on quiet afternoons.
The owner knew {his} usual order and started making it as soon as {he} walked in.
Sometimes {name} brought a book; sometimes {he} just watched people passing by.
""")

FIRST_PERSON = lines("""
I finally got round to fixing the shelf in the {room}, which has been wobbly since {month}.
This morning I missed the bus by about ten seconds, and the driver definitely saw me.
I spent most of {day} doing very little, and I do not regret it.
I have decided to read one book a month this year; so far I am two months behind.
My {rel} phoned to say that {name2} is getting married in {month}.
I keep meaning to {chore}, but there always seems to be something more urgent.
Today I went to {place} and, for once, there was no queue at all.
I tried a new recipe for {dish}, and it was edible, which I count as a success.
I bought {clothing} in the sale, and I am already wondering whether I need it.
I met {name2} for lunch and we talked about old times for nearly two hours.
The new neighbours seem nice; they have two small children and a very loud radio.
I walked {n} kilometres today, mostly because I got lost looking for {place}.
I have started getting up at {time}, and I feel much better for it.
I cannot believe it is already {month}; the year is going far too quickly.
My phone screen cracked this morning when I dropped it on the kitchen floor.
I had a long chat with {name3} about whether to change jobs.
I think I will stay where I am for now, but I am keeping my options open.
I cleaned out my wallet and found {nw} old receipts and a cinema ticket from last year.
I have been {hobby} for {n} months now, and I am slowly getting better.
I forgot my umbrella again, so I arrived at work looking like a wet dog.
I finally posted the parcel to my {rel}, three weeks later than I promised.
Nothing much happened today, which was exactly what I needed.
I was too tired to make {meal}, so I had a bowl of cereal instead.
I did the weekly shop and spent {price}, which seems like more every time.
I tidied my desk and found the pen I thought I had lost in {month}.
We had a small party for {name2}'s birthday, with cake and far too many balloons.
I have booked a few days off in {month} and I am already looking forward to it.
I went to bed early, but I could not sleep, so I read until after midnight.
I have promised myself that I will answer all my emails before {day}.
I spoke to the landlord about the leaking tap, and he says someone will come on {day}.
I tried {hobby} for the first time, and it was harder than it looks.
I was late for the meeting because I went to the wrong floor.
My {rel} sent me a photo of the new kitchen; it looks wonderful.
I lent my ladder to the people next door, and I am not sure I will ever see it again.
I found a lovely little bookshop near {place} that I had never noticed before.
I think I have finally found a way to stop losing my keys: a bright {colour} key ring.
I walked home instead of taking {transport}, and I was glad I did.
I made a list of everything I need to do this week; it is longer than I expected.
I bought a plant for the windowsill, and so far it is still alive.
I spent an hour on the phone trying to change my internet provider.
I am trying to drink less coffee, but today was not the day to start.
I have been sleeping badly, so I am going to try going to bed at the same time every night.
I took my {rel} to {place} in the afternoon, and we stopped for {drink} on the way back.
I realised I had been pronouncing a word wrong for years, and nobody had ever told me.
I watched an old film that I used to love as a child; it was not as good as I remembered.
I signed up for an evening class in {subject}, which starts on {day}.
I am not sure whether I am excited or nervous; probably both.
I cooked too much rice again, so lunch tomorrow is already sorted.
I managed to {chore} and {chore2} before lunch, which must be a record.
The house feels very empty now that {name2} has gone back to {city}.
I am writing this on the train, which is {minutes} minutes late as usual.
I finally understood how the heating timer works, after living here for {n} years.
I went for a short walk after dinner and saw the moon rising over the rooftops.
I have been trying to save a little money each week; so far I have {price}.
I got a letter from the council about the new recycling bins.
I had a cold all week, so I stayed in and drank a lot of {drink}.
I had my hair cut, and everyone at work noticed straight away.
I went to the dentist, and for once there was nothing wrong.
I sent {name2} a message, but I have not heard back yet.
""")

SHOPPING = lines("""
{Name} went to the supermarket on {day} to buy {food}, {food2} and {food3}.
The supermarket was busier than usual, and there were only two tills open.
{He} had a list, but {he} still came home with several things that were not on it.
{food} was on special offer, so {name} bought two packs instead of one.
The price of {food} had gone up again, from {price} to {price2}.
At {shop}, {name} asked whether they had {item}, but they had sold out.
The assistant said they would have more in stock by {day}.
{Name} always took {his} own bags, although {he} usually forgot at least one.
{He} paid by card and put the receipt in {his} pocket in case {he} needed to return anything.
The self-service checkout kept saying there was an unexpected item in the bagging area.
In the end, a member of staff came over and sorted it out with one press of a button.
{Name} compared the prices of two brands of {food} and chose the cheaper one.
{He} noticed that the large bag was actually more expensive per kilo than the small one.
{Name} bought {clothing} for {price} and then saw the same thing in another shop for less.
The shop had a sale on, with up to {pct} percent off selected items.
{Name} tried on {clothing} in {colour}, but it did not suit {him}.
{He} asked if there was a larger size, and the assistant went to check in the stockroom.
The market stalls opened at {time}, and the best fruit was usually gone by ten.
{Name} bought a bag of {food} from the stall at the end of the row.
The man at the stall always added an extra one "for luck".
{Name} ordered {item} online, and it arrived two days later in a box three times too big.
The parcel was left with a neighbour because nobody was home.
{Name} returned {clothing} because it was the wrong size.
The shop gave {him} a full refund, as long as {he} had the receipt.
{He} needed {item} for the {room}, so {he} went to {shop} after work.
The shop was closing at {time2}, so {he} had to be quick.
{Name} spent {price} on groceries, which was more than {he} had planned.
{He} decided to make a meal plan for the next week to avoid buying things {he} did not need.
There was a long queue at the pharmacy, because it was the only one open on {day}.
{Name} bought {food}, {food2}, {food3} and a newspaper at the corner shop.
The owner of the corner shop had run it for more than twenty years.
He knew most of his customers and always asked after their families.
{Name} noticed that the shelves were nearly empty after the long weekend.
{He} managed to find the last packet of {food} at the back of the shelf.
The new shopping centre had a car park with room for {big} cars, but it was always full.
{Name} prefers small local shops to big supermarkets, even if they are a little more expensive.
On {day} mornings, {name} and {name2} walked to the market together.
They usually bought {food}, {food2} and whatever looked fresh that week.
{Name} forgot to weigh the {food} at the self-service scale and had to go back.
The till receipt was almost a metre long, mostly because of the vouchers printed at the bottom.
{Name} had a voucher for {pct} percent off, but it had expired the day before.
{He} asked the assistant to check the price, because the label on the shelf said {price}.
It turned out the label was wrong, and {he} got the item at the lower price.
{Name} bought a birthday card for {name2} and a small box of chocolates.
The card shop had a whole wall of cards, and {name} still could not find one {he} liked.
In the end, {he} chose a plain card and wrote a long message inside.
{Name} needed new school shoes for {his} {rel}'s child and spent an hour in the shoe shop.
The children's section was noisy, with several families trying on shoes at the same time.
{Name} checked the use-by date before putting the {food} in the trolley.
{He} made a point of buying fruit and vegetables that were in season, because they were cheaper.
The bags were so heavy that {name} had to stop twice on the way home.
When {he} got home, {he} realised {he} had forgotten the one thing {he} had gone out for.
{Name} always did the big shop on {day}, when the shop was quieter.
{He} paid {price} for {item} and thought it was good value.
The electronics store had a huge display of televisions, all showing the same programme.
{Name} asked the assistant to explain the difference between two vacuum cleaners.
The assistant spent ten minutes explaining, and {name} still chose the cheaper one.
{Name} saves the receipts for anything electrical, in case it needs to go back under guarantee.
The bookshop had a table of new paperbacks at the front, all with bright covers.
{Name} bought two novels and a book about the history of {city}.
At the charity shop, {name} found {clothing} that looked almost new for just {price}.
{He} also picked up a set of mugs and a board for the kitchen.
The hardware store smelled of paint and sawdust.
{Name} bought screws, a tube of glue and {item}.
The man at the counter explained which screws would work best for a plaster wall.
{Name} tries not to go shopping when {he} is hungry, because {he} always buys too much.
The supermarket had moved everything around, and nobody could find anything.
{Name} had to ask where the {food} was, and the assistant walked {him} to the right aisle.
""")

COMMUTE = lines("""
{Name} catches {transport} at {time} every weekday.
The journey to work takes about {minutes} minutes if there are no delays.
On a good day, {name} can find a seat and read a few chapters of {his} book.
On a bad day, {he} stands all the way, squashed between strangers.
{Transport_cap} was delayed by {minutes} minutes because of a signal problem.
The announcement said the train would be arriving at platform {n}, then changed it to platform {n2}.
Everyone on the platform ran for the stairs at the same time.
{Name} cycles to work when it is dry, which saves money and time.
{He} locks {his} bike outside the office and carries {his} helmet in {his} bag.
The traffic on {street} was terrible this morning because of roadworks.
{Name} left home {minutes} minutes earlier than usual, but still arrived late.
{His} monthly travel pass costs {price}, which {he} thinks is too much.
The bus driver waited for {name} when {he} ran for the bus, which made {his} day.
{Name} always sits near the front of the bus so {he} does not miss {his} stop.
There was a man on the train talking loudly on his phone for the whole journey.
Most people on the early train look half asleep, and {name} is no exception.
{Name} uses the time on the train to answer messages and plan {his} day.
On the way home, {he} prefers to listen to music and look out of the window.
The tram stop is only two minutes from {name}'s front door.
{Name} missed {his} stop because {he} was reading and had to walk back.
The trains were cancelled because of a strike, so {name} worked from home.
The car would not start, so {name} had to borrow {name2}'s bike.
{Name} shares a lift to work with {name2}, who lives on the next street.
They take turns driving and split the cost of fuel.
The car park at the station was full by {time}.
{Name} found a parking space at last, but it was a long walk from the entrance.
The roads were quiet during the school holidays, and the journey took half the usual time.
{Name} bought a coffee at the station kiosk and drank it on the platform.
The ticket machine was not working, so there was a long queue at the ticket office.
{Name} had to change trains at {city}, which added twenty minutes to the trip.
The connecting train left from the other side of the station, and {he} only just caught it.
{Name} always checks the travel updates before leaving home.
There was a diversion on the bus route because part of {street} was closed.
The driver announced each stop clearly, which was helpful for the visitors on board.
A young man gave up his seat for an older woman with heavy shopping.
{Name} walks the last part of the journey, which takes about ten minutes.
The walk goes past a school, a petrol station and a row of small shops.
{Name} likes to get to work a little early so {he} can have a quiet cup of {drink} before the day begins.
The journey home took almost {hours} hours because of an accident on the main road.
{Name} phoned home to say {he} would be late for {meal}.
The night bus was full of people going home after a concert.
{Name} fell asleep on the train and woke up just in time for {his} station.
{He} has been commuting for {n} years and knows the timetable almost by heart.
The new timetable starts on {date}, and some of the early trains will leave five minutes sooner.
{Name} prefers the slower train because it is less crowded.
The escalator at the station was out of order, so everyone had to use the stairs.
{Name} left {his} umbrella on the bus and never saw it again.
The lost property office had more than {big} umbrellas waiting to be collected.
A woman asked {name} for directions to {place}, and {he} walked her to the corner.
The bus was so crowded that the driver did not stop to let anyone else on.
{Name} set off on foot and arrived just as the meeting was starting.
From the top deck of the bus, {name} could see right over the hedges into people's windows.
The train stopped for ten minutes outside the station, and nobody knew why.
When it finally moved again, the passengers gave a small cheer.
{Name} bought a folding bike so {he} could take it on the train.
Some days the journey feels very long; other days it is over in no time.
{Name} keeps a spare phone charger in {his} bag for long journeys.
The station had a new waiting room with heaters and comfortable seats.
During the rush hour, the platforms are packed from one end to the other.
Many people now work from home one or two days a week, and the trains are quieter on Fridays.
{Name} used {his} journey time to learn a few words of {language} each day.
{He} knew {he} had been commuting too long when the ticket inspector started saying hello.
""")

SCHOOL = lines("""
{Name} is in year {n} at the local secondary school.
{His} favourite subject is {subject}, but {he} finds {subject2} quite difficult.
The school day starts at {time} and finishes at about half past three.
Every {day}, {name} has a double lesson of {subject} straight after lunch.
The {subject} teacher, Mr {surname}, is strict but fair.
Ms {surname} makes {subject} lessons fun by turning them into games and quizzes.
{Name} had a test in {subject} on {day} and spent the evening before revising.
{He} got {n2} out of 60, which was better than {he} had expected.
The homework was to write a short essay about a person {he} admires.
{Name} chose to write about {his} {rel}, who had worked as a {job} for thirty years.
The class went on a trip to {place}, where they learned about the history of the town.
Each pupil had to fill in a worksheet and answer {nw} questions.
{Name} forgot {his} packed lunch and had to borrow money from {name2}.
At break time, most of the children play in the yard or queue at the tuck shop.
The school library is open at lunchtime for anyone who wants somewhere quiet to read.
Parents' evening is on {day}, {date}, from four until seven.
{Name}'s parents were pleased to hear that {he} works hard and helps others.
The teacher said {he} should try to speak up more in class discussions.
The school play this year is a comedy, and {name} has a small speaking part.
Rehearsals are every {day} after school in the main hall.
{Name} walks to school with {name2} and {name3}, who live on the same street.
The school bell rang, and the corridors filled with noise.
There was a fire drill during the {subject} lesson, and everyone lined up in the yard.
{Name} joined the after-school art club and made a clay pot that was slightly lopsided.
The headteacher gave a speech in assembly about kindness and respect.
The end-of-term reports were sent home on {day}.
{Name}'s report said that {he} was a "thoughtful and reliable member of the class".
The exams start in {month}, and the pupils have been given a revision timetable.
{Name} uses flash cards to learn new vocabulary in {language}.
{He} finds it easier to remember things if {he} writes them out by hand.
The class had a spelling test every {day}, with {n2} words each time.
The school canteen serves a hot lunch every day, with a vegetarian option.
{Name} prefers to bring a packed lunch, usually {dish} and a piece of fruit.
In geography, the class was learning about how rivers shape the land around them.
In history, they were studying how people lived a hundred years ago.
The teacher showed old photographs of the town's main street, full of horses and carts.
{Name} was surprised to see that the shop on the corner had been there even then.
The pupils worked in groups of {nw} to make a poster about recycling.
{Name}'s group won a prize for the most creative poster.
The school holidays start on {date}, and {name} is looking forward to a rest.
{Name} has a part-time job at the weekend, helping out at {shop}.
{He} is saving up for a new phone, but it is taking a long time.
At university, {name} studied {subject} and lived in a shared house with {nw} other students.
The lectures started at nine, which felt very early after a late night.
{Name} spent most evenings in the library, surrounded by piles of books.
{His} tutor encouraged {him} to write a longer essay on a topic {he} cared about.
{Name} graduated in {year} and moved to {city} to look for work.
The evening class in {subject} meets every {day} at the community centre.
Most of the students are adults who want to learn something new after work.
The teacher begins each lesson by going over what they learned the week before.
{Name} was nervous on the first evening, but everyone was very welcoming.
Learning a language as an adult takes patience, but it is never too late.
{Name}'s little sister has just started primary school and loves her teacher.
She comes home every day with paintings that cover the whole fridge door.
The children learned a song about the days of the week and sang it all the way home.
The teacher asked the children to bring in something from home that begins with the letter {letter}.
The school is raising money for new books for the library.
They are holding a sale on {day} afternoon, with games and a raffle.
{Name} volunteered to help run the second-hand book stall.
At the end of the lesson, the teacher set {nw} questions for homework.
{Name} did {his} homework at the kitchen table while {his} {rel} made {meal}.
The reading list for the summer included {nw} novels and a collection of short stories.
{Name} read the first one in a day and then struggled with the rest.
{He} learned to type properly at school and still uses the same method today.
The school has a new sports hall, which was opened by a local athlete.
The class photograph is taken every year in {month}, and nobody ever likes it.
""")

FAMILY = lines("""
{Name}'s family gets together every {day} for a big {meal}.
{His} {rel} always sits at the head of the table and tells the same stories.
The children set the table while the adults finish cooking.
After the meal, everyone helps to clear up, although some help more than others.
{Name} has {nw} brothers and sisters, and they all live within an hour of each other.
{His} youngest {rel} has just moved into a flat in {city}.
The whole family helped with the move, carrying boxes up {nw} flights of stairs.
{Name}'s grandparents celebrated their fiftieth wedding anniversary in {month}.
The family hired a room at a local restaurant and invited over {n2} guests.
There were speeches, old photographs and a cake in the shape of a heart.
{Name}'s {rel} is {age} and still goes swimming three times a week.
{He} visits {his} parents every other weekend and helps with anything that needs doing.
Last time, {he} helped {his} father put up a new shelf in the {room}.
{Name} and {name2} have been married for {n} years and have two children.
The older child is {n} and the younger one is just starting to walk.
Bedtime in their house involves a bath, a story and at least one glass of water.
The children share a bedroom, which leads to a lot of arguments about the light.
{Name}'s {rel} phones every {day} evening at exactly the same time.
They talk about the week, the family and whatever is on the news.
{Name} takes {his} {rel} shopping every {day}, because the bus journey is long and tiring.
They usually stop for {drink} and a slice of cake before going home.
The family has a group chat, which is mostly photos of food and pets.
{Name}'s cousin {name2} is getting married next {month} in {city}.
Everyone has been asked to reply to the invitation by {date}.
{Name} is going to be one of the ushers and has to wear a {colour} tie.
The children were very excited about the holiday and packed their bags a week early.
{Name}'s parents met at a dance in {city} in {year}.
They still have the ticket from that evening, kept safe in a drawer.
{Name}'s {rel} taught {him} how to sew on a button when {he} was ten.
It is still one of the most useful things {he} has ever learned.
At family parties, {name}'s uncle always insists on organising a quiz.
The questions are very hard, and he never tells anyone the answers.
{Name} looks a lot like {his} {rel}, especially around the eyes.
People often mistake them for each other in old photographs.
Every summer, the family rents a house in the countryside for a week.
They spend their days walking, reading and playing cards in the evenings.
{Name}'s children are {n} and {n2}, and they never agree on what to watch on television.
The family has a rule that nobody uses a phone at the dinner table.
{Name} is the one who remembers everybody's birthday.
{He} keeps a list on the fridge with all the dates written in {colour} pen.
{Name}'s {rel} has moved in with them for a few weeks while the flat upstairs is being repaired.
It is a little crowded, but everyone is getting along well.
The children love having their grandmother around to read them stories.
{Name}'s twin cousins are so alike that even their teachers mix them up.
{Name} and {his} siblings take turns hosting the family for the holidays.
This year it is {name}'s turn, and {he} has already started planning the menu.
The house was full of noise, laughter and the smell of cooking.
When the guests had gone, {name} sat down on the sofa and closed {his} eyes for a moment.
{Name}'s {rel} sends a handwritten letter every month, even though an email would be quicker.
Everyone agrees that letters feel more personal and are worth the extra time.
The family dog is old now and spends most of the day asleep by the radiator.
{Name}'s {rel} is learning to use a tablet and phones every few days with questions.
{Name} is patient and explains everything step by step.
The baby said her first word last week; it was "more".
{Name}'s son has started asking "why?" about everything.
Why is the sky blue? Why do we have to sleep? Why can't the dog come to school?
{Name} answers as many questions as {he} can and looks up the rest.
The family moved house in {year}, and the children still talk about the old place.
{Name} keeps a box of the children's drawings and school reports in the attic.
On quiet afternoons, they sometimes get it down and look through it together.
{Name}'s {rel} lives in {country}, so they mostly keep in touch by video call.
The time difference means that one of them is usually eating breakfast while the other has dinner.
{Name}'s family likes to go for a long walk after {meal} on {day}.
They usually walk to the park and back, which takes about an hour.
{Name}'s daughter wants to be a {job} when she grows up.
Last year she wanted to be a {job2}, and the year before that a pop star.
There was a small argument about who would do the washing-up, but it was soon forgotten.
{Name}'s parents are retiring next year and plan to travel more.
They have already bought a map and marked all the places they want to visit.
""")

HOUSEHOLD = lines("""
{Name} tries to {chore} every {day}, but it does not always happen.
The washing machine finished its cycle, and {name} hung the clothes up to dry.
The {room} needed a good clean, so {name} started by opening the windows.
{He} dusted the shelves, wiped the surfaces and then vacuumed the carpet.
It took about {minutes} minutes, but the room looked much better afterwards.
The kitchen tap had been dripping for a week, so {name} finally replaced the washer.
{Name} keeps a list of household jobs on the fridge and ticks them off one by one.
{He} decided to {chore} before the guests arrived on {day}.
The bin collection is every {day}, and {name} always forgets to put the bins out the night before.
Recycling goes in the {colour} bin, and general rubbish goes in the black one.
{Name} sorted the recycling into paper, plastic, glass and tins.
The light bulb in the {room} went out, and there was no spare in the cupboard.
{Name} bought {item} and fixed the problem in five minutes.
The fridge was nearly empty, so {name} cleaned it out before doing the shopping.
{He} found a jar of something at the back that {he} did not recognise at all.
{Name} and {name2} share the housework, although they do not always agree on what "clean" means.
{Name} likes to {chore} on {day} mornings with the radio on.
The carpet in the {room} had a stain that would not come out.
{Name} tried warm water and a little washing-up liquid, and it slowly faded.
The front door had started to stick, so {name} sanded the edge a little.
{Name} painted the {room} {colour} and was pleased with the result.
It needed two coats of paint and most of a weekend.
The radiator in the {room} was cold at the top, so {name} bled it with a small key.
The smoke alarm started beeping in the middle of the night because the battery was low.
{Name} stood on a chair at three in the morning to change it.
{He} makes a point of testing the smoke alarms once a month.
The windows were so dirty that {name} could hardly see out of them.
{He} used warm water with a splash of vinegar and dried them with old newspaper.
{Name} put away the winter clothes and brought out the lighter ones.
The wardrobe was so full that {he} had to give some things to the charity shop.
{Name} labelled all the boxes in the attic so {he} could find things more easily.
{He} found {nw} old phone chargers, none of which fitted any phone {he} owned.
The dishwasher was not draining properly, so {name} cleaned the filter.
It was full of food scraps and one small plastic spoon.
{Name} made a cleaning rota so that everyone in the house knew what to do.
The children were in charge of tidying their rooms and feeding the cat.
{Name} was in charge of the bathroom, which {he} considered unfair.
Ironing is the one job {name} really dislikes, so {he} listens to podcasts while doing it.
The shelves in the {room} were full of books that nobody had read in years.
{Name} took {n} boxes of books to the library sale.
The kitchen cupboards were reorganised so that the things used every day were easiest to reach.
{Name} bought {item} and {item2} for the new flat.
{He} put up shelves in the {room} using a spirit level and {nw} screws.
The shelves were straight, which surprised everyone, including {name}.
The boiler was serviced on {day}, and the engineer said it was in good condition.
{Name} meant to defrost the freezer but kept putting it off until the door would not close.
{He} spread old towels on the floor and left the freezer door open for an hour.
The hallway was full of shoes, bags and coats, so {name} put up a row of hooks.
{Name} always makes the bed as soon as {he} gets up.
{He} says it makes the whole room look tidier, even if everything else is a mess.
The electricity bill arrived, and it was higher than last quarter.
{Name} decided to switch off lights in empty rooms and unplug chargers when not in use.
The plumber came at {time} and fixed the leak under the sink in twenty minutes.
He charged {price}, which {name} thought was fair.
{Name} keeps a small toolbox with a hammer, screwdrivers, pliers and a tape measure.
{He} bought a new shower head, which was much easier to fit than {he} had expected.
The window in the {room} would not close properly, and there was a draught all winter.
A neighbour recommended a good handyman, and the job was done in an afternoon.
{Name} cleared the gutters with a ladder and a pair of old gloves.
{Name} washed the curtains for the first time in years, and the room looked brighter.
Sorting socks is never-ending; there is always one without a partner.
{Name} took the rugs outside and gave them a good shake.
After the party, the living room was covered in cups, plates and paper napkins.
It took {name} and {name2} an hour to get everything back to normal.
{Name} keeps spare batteries, a torch and candles in one drawer, just in case.
The vacuum cleaner stopped working, and {name} found a sock stuck in the hose.
{Name} replaced the old curtains in the {room} with blinds.
The new blinds let in more light and are easier to keep clean.
""")

HEALTH = lines("""
Drinking enough water during the day can help you feel less tired.
A short walk after a meal is good for your digestion and your mood.
Try to get between seven and nine hours of sleep each night.
Going to bed and getting up at the same time every day can improve your sleep.
Washing your hands with soap for at least twenty seconds helps to stop germs spreading.
Eating a variety of fruit and vegetables gives your body many of the vitamins it needs.
If you sit at a desk all day, try to stand up and stretch every half an hour.
Looking away from a screen every twenty minutes can help reduce eye strain.
Regular visits to the dentist can catch small problems before they become big ones.
Brush your teeth twice a day and replace your toothbrush every three months.
It is a good idea to keep a basic first-aid kit at home and in the car.
Stairs are a free and easy form of exercise, so take them when you can.
A balanced breakfast can give you energy for the rest of the morning.
Too much caffeine late in the day can make it harder to fall asleep.
Spending time outdoors, even for a few minutes, can lift your mood.
If you feel unwell for more than a few days, it is sensible to see a doctor.
Stretching gently before and after exercise can help prevent injury.
Talking to a friend about your worries can make them feel more manageable.
Try to eat slowly and stop when you feel comfortably full.
Keeping a regular routine can help when you are feeling stressed.
Wearing comfortable shoes that fit properly is good for your feet and back.
Sunscreen is worth wearing whenever you are outside for long periods in summer.
Many people find that writing down three good things each day helps them feel more positive.
A cold compress can reduce swelling after a minor bump or sprain.
If you have a cough or a cold, cover your mouth and nose when you sneeze.
Small changes, like taking the stairs or walking to the shops, add up over time.
It is easier to stick to exercise if you choose something you actually enjoy.
Cutting down on sugary drinks is one of the simplest ways to improve your diet.
Reading labels on food packets can help you understand what you are eating.
Most adults should aim for at least 150 minutes of moderate activity a week.
A good pillow and a dark, quiet bedroom can make a big difference to your sleep.
Some people find that a short breathing exercise helps them relax before bed.
When lifting something heavy, bend your knees and keep your back straight.
Keep medicines in their original packets and store them out of reach of children.
Always read the leaflet that comes with a new medicine.
If you are not sure about a medicine, ask the pharmacist for advice.
A healthy lunch does not have to be complicated; soup and a piece of bread is a good choice.
Having a glass of water before each meal is an easy habit to start.
Try not to skip meals, because it can make you more likely to snack later.
Laughing with friends is not only fun but can also help to reduce stress.
Taking regular breaks from work helps you stay focused for longer.
A short afternoon nap of twenty minutes can be refreshing, but longer naps may leave you groggy.
If your eyes often feel tired, it may be time for an eye test.
Listening to your body is important; rest if you feel exhausted.
It is normal to feel low sometimes, but if it lasts, talk to someone you trust.
Hobbies such as {hobby} are a good way to relax and take your mind off work.
Walking {n} thousand steps a day is a good target for many people.
Make sure your desk chair supports your lower back.
Keep your phone out of the bedroom if you find it hard to switch off at night.
Try to have at least one day a week when you do not check work emails.
A warm bath an hour before bed can help you feel sleepy.
Fresh air and daylight in the morning can help set your body clock.
A handful of nuts makes a better snack than a packet of crisps.
Flu jabs are usually offered in the autumn to older people and those with certain conditions.
If you cut yourself, clean the wound with water and cover it with a clean plaster.
For a minor burn, run cool water over it for several minutes.
Make an appointment with the doctor if a mole changes shape or colour.
Eating meals at roughly the same time each day can help regulate your appetite.
Planning your meals for the week can make it easier to eat well.
Stay at home if you have a fever, so you do not pass it on to others.
Ask for help when you need it; nobody has to manage everything alone.
{Name} started walking to work twice a week and noticed that {he} slept better.
{Name}'s doctor advised {him} to cut down on salt and walk a little more each day.
After a few weeks of going to bed earlier, {name} felt much more awake in the mornings.
{Name} keeps a bottle of water on {his} desk as a reminder to drink throughout the day.
{Name} joined a beginners' swimming class at {place} and goes every {day}.
{Name} had a check-up at the health centre, and the nurse took {his} blood pressure.
Everything was normal, and the nurse told {him} to come back in a year.
""")

WORK = lines("""
{Name} works as a {job} at {company} in {city}.
{He} has been there for {n} years and knows most of the staff by name.
The office opens at {time}, but {name} usually arrives a little earlier.
The first thing {he} does each morning is check {his} emails and make a list of what needs doing.
There is a team meeting every {day} at {time} to go through the plans for the week.
This week, the main job is to finish {task} before the end of {day2}.
{Name} spent most of the morning on the phone with customers.
One customer wanted to change an order that had already been sent.
{Name} explained the options politely and arranged for a replacement.
The printer jammed again, and nobody knew how to fix it.
In the end, {name2} from {dept} opened every drawer until they found the stuck sheet.
Lunch is usually a sandwich at {his} desk, although {he} knows {he} should take a proper break.
On {day}s, the whole team goes out for lunch together.
The new manager, {name2} {surname}, started on {date} and has already made some changes.
Meetings are now shorter, and everyone has to send an agenda the day before.
{Name} was asked to give a short presentation about {task}.
{He} practised it twice at home and it went well on the day.
The office is moving to a new building on {street} in {month}.
Everyone has been asked to clear their desks and label their boxes.
{Name} found a drawer full of pens, paper clips and old business cards.
The coffee machine in the staff kitchen has been broken for a week.
Someone put up a sign that said "Out of order, sorry!" with a sad face drawn on it.
{Name} had a busy day and did not leave the office until after {time2}.
{His} manager thanked {him} for staying late and told {him} to start later the next day.
{Name} works from home on {day}s, which saves {him} {n} hours of travelling.
{He} has set up a small desk in the corner of the {room}.
The video call started late because half the team could not get the sound to work.
"Can everyone hear me?" asked {name2} for the third time.
{Name} is responsible for ordering office supplies, such as paper, pens and printer ink.
{He} noticed that the team was using far more paper than last year.
The team agreed to print less and share documents by email instead.
{Name} asked for a day off on {date} to go to a family wedding.
{His} request was approved the same afternoon.
The annual staff survey asks everyone how they feel about their work.
Most people said they liked their colleagues but wanted more training.
{Name} is going on a training course in {city} next {month}.
The course lasts {nw} days and covers customer service and time management.
{Name} keeps a notebook on {his} desk for writing down phone messages.
{He} always writes down the caller's name, number and the time they called.
The shop where {name} works opens at nine and closes at half past five.
On busy days, {name} serves more than a hundred customers.
{Name} works shifts at the hospital, sometimes during the day and sometimes at night.
Night shifts are quiet at times, but when it gets busy, it gets very busy.
{Name} likes working as a {job} because every day is different.
The hardest part of the job is dealing with people who are angry or upset.
{He} has learned to listen carefully and stay calm.
{Name} received an email from a customer thanking {him} for {his} help.
{He} printed it out and pinned it to the noticeboard.
There was a leaving party for {name2}, who had worked at {company} for {n2} years.
Everyone signed a card and chipped in for a present.
{name2} gave a short speech and thanked everyone for their support.
{Name} applied for a new job as a {job} and was invited for an interview on {day}.
{He} read about the company, prepared some answers and chose a smart outfit.
The interview lasted about forty minutes and included a short written test.
The interviewer asked {him} to describe a time when {he} had solved a difficult problem.
{Name} was offered the job two days later and accepted straight away.
{His} old colleagues were sad to see {him} go but wished {him} luck.
The office has a rota for making tea, and it is taken very seriously.
{Name} forgot {his} turn once and has never been allowed to forget it.
The team finished {task} a day early, and the manager bought doughnuts for everyone.
{Name} finds it easier to concentrate in the morning, so {he} does the hardest jobs first.
{He} turns off email notifications for an hour each morning to focus.
The company has a new policy that allows staff to work flexible hours.
{Name} now starts at eight and finishes at four, which suits {him} much better.
{Name} sits next to {name2}, who hums quietly while working.
Most days {he} does not mind, but on busy days it drives {him} slightly mad.
The team celebrated reaching its target for the year with a meal at a local restaurant.
{Name} has been asked to train the new receptionist next week.
{He} has made a short guide explaining how the phone system works.
The lift was out of order, so everyone had to climb to the {ordinal} floor.
At the end of the day, {name} tidied {his} desk and switched off the lights.
""")

EMAIL_SUBJECTS = lines("""
Meeting on {day}
Quick question
Update on {task}
Change of plan
Holiday dates
Thank you
Lunch next week?
Reminder: {task}
Office move
Training day on {date}
Your order
Parking at the new office
Team lunch
Missing keys
Rota for {month}
Leaving card for {name3}
Request for a day off
Welcome to the team
Room booking for {day}
Feedback on the survey
""")

EMAIL_OPENERS = lines("""
I hope you are well.
I hope you had a good weekend.
Thanks for your email.
Thank you for getting back to me so quickly.
Sorry for the slow reply; it has been a busy week.
I am just writing to follow up on our conversation on {day}.
Just a quick note about {task}.
I wanted to let you know about a small change of plan.
Thanks again for your help yesterday.
I hope you had a good holiday.
I am writing to confirm the arrangements for {day}.
I have a quick question about {task}.
Apologies for the short notice.
Welcome back!
Thank you for coming to the meeting this morning.
""")

EMAIL_BODY = lines("""
The meeting on {day} has been moved to {time} in the small meeting room on the {ordinal} floor.
Could you send me the latest version of {task} when you have a moment?
I have attached the notes from {day}'s meeting, including the list of actions.
Please let me know by {day} if you are able to attend.
I will be out of the office from {date} to {date2}, so please contact {name3} if anything urgent comes up.
I have booked a table for {n} people at {time} on {day}.
The training day will start at {time} and should finish by about four o'clock.
Lunch will be provided, but please let me know if you have any dietary requirements.
I spoke to {name3} in {dept}, and they are happy to help with {task}.
There seems to be a problem with the figures for {month}; could we go through them together?
I am afraid I will not be able to make {day}'s meeting, as I have a doctor's appointment.
Would {day2} at {time} work for you instead?
The new parking permits are ready and can be collected from reception.
Just a reminder that all expenses for {month} need to be submitted by {date}.
I have updated {task}, and the changes are highlighted in yellow.
Could you check the attached document and let me know if anything is missing?
We are collecting for a leaving present for {name3}; if you would like to contribute, please see me.
The office will be closed on {date} for the public holiday.
I have put the boxes for the office move in the corridor outside {dept}.
Please could everyone make sure their desk is clear by {day} evening.
The cleaners will be coming early on {day}, so please do not leave anything on the floor.
I think it would be helpful to have a quick chat before we finalise {task}.
I have copied in {name3}, who is looking after this while I am away.
The order has been sent and should arrive within {nw} working days.
I am sorry to hear about the delay, and I will look into it straight away.
The room is booked from {time} until {time2}, so we should have plenty of time.
I have found a set of keys in the kitchen; if they are yours, they are at my desk.
Our new colleague, {name3}, starts on {day}; please do say hello and make them feel welcome.
Could you remind the team to fill in the staff survey before {date}?
I have attached a map showing how to get to the new office on {street}.
It is about a {minutes}-minute walk from the station.
The coffee machine has been fixed, so normal service has resumed.
If you have any questions, please feel free to ask.
I have spoken to the supplier, and they have promised to deliver by {day}.
The price has gone up slightly, from {price} to {price2} per box.
We will need to decide by the end of the week whether to go ahead.
I really appreciated your help with {task}; it made a big difference.
Let me know if there is anything else I can do.
""")

EMAIL_CLOSERS = lines("""
Thanks in advance for your help.
Let me know if you have any questions.
Looking forward to seeing you on {day}.
Speak soon.
Have a good weekend.
Thanks again.
Many thanks for your patience.
See you tomorrow.
Let me know what you think.
""")

EMAIL_SIGNOFFS = lines("""
Best wishes,
Kind regards,
Thanks,
Many thanks,
All the best,
Best,
Regards,
Cheers,
""")

# Dialogue exchanges: "first line|reply" (a third part, if present, is a follow-up).
DIALOGUE = lines("""
Is this seat taken?|No, go ahead.|Thanks, it has been a long day.
Do you know what time the library closes?|I think it closes at {time} on weekdays.
Have you seen my keys anywhere?|They were on the table by the door this morning.|Oh, of course. Thank you!
Would you like a cup of {drink}?|Yes, please. Milk, no sugar.
How was your day?|Busy, but not bad. How was yours?|Quiet, for once.
What are you doing this weekend?|Not much. I might visit my {rel} on {day}.
Could you pass the salt, please?|Here you are.
Are you coming to {name3}'s party on {day}?|I would love to, but I am working that evening.
Excuse me, is this the way to {place}?|Yes, keep going straight and take the second left.|Thank you so much.
Did you remember to buy {food}?|I knew I had forgotten something.
What time does the film start?|At {time}, so we should leave soon.
Can I help you with those bags?|That is very kind of you, thank you.
How much is this {clothing_noun}?|It is {price}, but it is in the sale this week.
Have you finished with the newspaper?|Yes, you can take it.
Where did you buy that {clothing_noun}?|At the market, would you believe it?
Is everything all right?|Yes, I am just a bit tired.|Why don't you sit down for a minute?
Shall we order a takeaway tonight?|Good idea. I really do not feel like cooking.
When is your appointment?|On {day} at {time}.|Do you want me to come with you?
Have you heard from {name3} lately?|Yes, I got a message last week. All is well.
Do you need anything from the shops?|Could you get some {food}, please?
What did the doctor say?|Nothing serious. I just need to rest for a few days.
Can you help me move this table?|Sure. Which end do you want?
How long have you lived here?|About {n} years now.|It seems like a lovely street.
Do you take cards?|Yes, we do, but only for purchases over {price}.
Is there a cash machine nearby?|There is one outside the supermarket on {street}.
What would you like for {meal}?|Something quick. How about {dish}?
Are we nearly there?|About ten more minutes.|You said that ten minutes ago.
Did you sleep well?|Not really. The neighbours were playing music until midnight.
Could you call me back later?|Of course. What time is best?|Any time after {time}.
Why are you smiling?|I just got some good news.|Go on, tell me!
Have you got a pen I could borrow?|Here you go. You can keep it.
Is it far to the station?|No, it is only a five-minute walk.
Would you mind closing the window?|Not at all. Are you cold?
Did you enjoy the concert?|It was wonderful. The band played for nearly three hours.
How do you get to work?|I usually take {transport}, but sometimes I walk.
What are you reading?|It is a novel about a family that runs a small hotel.|Is it any good?
Could I have the bill, please?|Certainly. I will bring it over now.
Do you want to split it?|Yes, that seems fair.
Are you free for lunch on {day}?|I am. Shall we meet at one?
Where shall we meet?|Outside {place}, at about {time}.
Can you hear me now?|Yes, much better. You were breaking up before.
Do you know how this machine works?|I think you press the green button first.
Is there anything I can do to help?|Could you set the table?
What happened to your arm?|I tripped over the cat on the stairs.|Oh no! Are you all right?
Have you been here before?|Once, a long time ago. It has changed a lot.
Shall I bring anything on {day}?|Just yourselves. Everything else is sorted.
Which platform does the train leave from?|Platform {n}, but it is running a few minutes late.
How was the interview?|I think it went well. They said they would call me on {day}.
What time do you finish today?|Around {time2}, if nothing goes wrong.
Do you want the last biscuit?|No, you have it.|Are you sure?
Did you lock the back door?|I think so. I will go and check.
How old is your daughter now?|She is {n} already. Time goes so quickly.
Can I pay by card?|Of course. Just tap it on the reader.
Where do these plates go?|In the cupboard above the sink.
Is the shop open on Sundays?|Yes, but only from ten until four.
Have you got any plans for the holidays?|We are going to stay with friends in {city}.
Sorry I am late!|Don't worry, we have only just started.
Do you have this in a smaller size?|Let me check in the back for you.
Would you like a bag?|No, thanks. I have brought my own.
How are you feeling today?|Much better, thank you.|I am glad to hear it.
What is the password for the wifi?|It is written on the card by the door.
Are these seats free?|Yes, they are. We are just leaving.
Is it always this busy?|Only on {day}s. Come back on a weekday and it is quiet.
Could you speak a little more slowly, please?|Of course. Sorry, I always talk too fast.
What do you do for a living?|I am a {job}.|That must be interesting.
Where are you from?|I grew up in {city}, but I have lived here for years.
Have you had {meal} yet?|Not yet. Shall we eat together?
Do you think it will be busy at the market?|It is {day}, so probably.
Did you get my message?|I did, sorry. I have been meaning to reply.
How did you two meet?|We worked in the same office in {city}.
Can we stop for a moment?|Of course. Are you tired?|Just a little.
Is this the queue for tickets?|Yes, it starts just behind that man in the {colour} coat.
Do you remember where we parked?|Level {n}, near the lifts. I took a photo.
Shall I turn the music down?|Yes, please. I am trying to concentrate.
What did you think of the film?|The beginning was slow, but I liked the ending.
Would you like to come in?|Thank you, but I cannot stay long.
Is there a post office near here?|There is one inside the supermarket.
Who was that on the phone?|Just my {rel}, checking that we are still coming.
How much do I owe you?|Nothing, it is my treat.|Then the next one is on me.
Have you seen the news today?|No, I have not had a chance. What happened?
Do you want me to drive?|Would you? I am exhausted.
Are you ready to order?|Could we have a few more minutes, please?
What are you looking for?|My glasses. I had them a minute ago.|They are on your head.
Did you manage to fix the shelf?|Yes, finally. It only took three attempts.
Can you keep a secret?|That depends on the secret.
Why is the door open?|I was airing the room. I will close it now.
""")

# Question and answer pairs (plain information).
QA = lines("""
How many days are there in a leap year?|There are 366 days in a leap year.
How many minutes are there in an hour?|There are sixty minutes in an hour.
How many months have thirty days?|Four months have thirty days: April, June, September and November.
What is the shortest month of the year?|February is the shortest month, with 28 days in most years.
How often should you replace a toothbrush?|Most dentists suggest replacing it every three months.
What should you do if you find a wallet in the street?|Hand it in at a police station or try to contact the owner.
How long does it take to walk a kilometre?|Most adults walk a kilometre in about ten to fifteen minutes.
What time does the library open on {day}?|It opens at {time} and closes at {time2}.
How much does a child's ticket cost?|A child's ticket costs {price}, and children under five travel free.
Where can I recycle old batteries?|Most supermarkets have a collection box near the entrance.
What is the best way to remove a coffee stain?|Blot it with cold water as soon as possible, then wash it as usual.
How do I book an appointment with the doctor?|You can phone the surgery or book online through the website.
Can I bring my own bag to the supermarket?|Yes, and many shops now charge for new bags.
How many weeks are there in a year?|There are 52 weeks and one or two extra days.
What does "RSVP" on an invitation mean?|It means that the host would like you to reply.
How long should you boil an egg for a soft yolk?|About six minutes in boiling water.
What is a good way to remember a new word?|Use it in a sentence a few times on the day you learn it.
How do you write the number 1,000 in words?|You write it as "one thousand".
What is the difference between "their" and "there"?|"Their" shows that something belongs to people, and "there" refers to a place.
What should I bring to a job interview?|Bring a copy of your CV, a pen and any documents they have asked for.
How early should I arrive for a train?|Arriving ten or fifteen minutes early gives you time to find the platform.
What is the capital of {geo_country}?|The capital of {geo_country} is {geo_capital}.
Which continent is {geo_country} in?|{geo_country} is in {geo_continent}.
What language do many people speak in {geo_country}?|Many people in {geo_country} speak {geo_language}.
How many sides does a triangle have?|A triangle has three sides.
How many hours are there in a day?|There are 24 hours in a day.
What is half of {even}?|Half of {even} is {half}.
What is {a} plus {b}?|{a} plus {b} is {a_plus_b}.
What is {a} times {b}?|{a} times {b} is {a_times_b}.
How many centimetres are there in a metre?|There are one hundred centimetres in a metre.
How many grams are there in a kilogram?|There are one thousand grams in a kilogram.
What temperature does water freeze at?|Water freezes at zero degrees Celsius.
How do you say "thank you" politely in a letter?|You might write "Thank you very much for your help."
When should you use a capital letter?|At the start of a sentence, for names of people and places, and for the word "I".
What is a paragraph?|A paragraph is a group of sentences about one main idea.
What does a full stop do?|A full stop shows where a sentence ends.
When do we use a question mark?|We use a question mark at the end of a direct question.
What is an apostrophe used for?|It shows that letters are missing, as in "don't", or that something belongs to someone, as in "Anna's coat".
How can I save money on my food shopping?|Make a list, plan your meals and avoid shopping when you are hungry.
How do I stop my glasses from steaming up?|Make sure your mask or scarf fits well over your nose.
Why is it important to sleep well?|Sleep helps your body recover and helps you concentrate the next day.
How can I make my bedroom quieter?|Thick curtains, a rug and closing the door all help.
What is the quickest way to the station?|Go down {street}, turn right at the lights and it is straight ahead.
When does the post office close on {day}?|It closes at {time2}.
How often are the bins collected?|General rubbish is collected every week and recycling every two weeks.
What should I do if I miss my train?|Ask at the ticket office; you can often take the next train with the same ticket.
How long does a passport take to renew?|It usually takes a few weeks, so apply well before you travel.
What is the best time to visit the museum?|Weekday mornings are usually the quietest.
Where can I find the lost property office?|It is next to the ticket office on the main concourse.
Is the museum free?|Entry is free, but some special exhibitions charge a fee.
How many players are needed for a game of cards like snap?|You need at least two players.
How long does it take to learn to ride a bike?|Most children learn in a few days with plenty of practice.
What is the plural of "child"?|The plural of "child" is "children".
What is the plural of "mouse"?|The plural of "mouse" is "mice".
What is the past tense of "go"?|The past tense of "go" is "went".
What is the past tense of "buy"?|The past tense of "buy" is "bought".
What is the opposite of "early"?|The opposite of "early" is "late".
What is the opposite of "cheap"?|The opposite of "cheap" is "expensive".
What is a synonym for "happy"?|"Glad", "cheerful" and "pleased" all mean something similar.
How do you spell "necessary"?|N-E-C-E-S-S-A-R-Y: one C and two S's.
What is the first day of the working week?|In many countries, the working week starts on Monday.
What comes after {month}?|The month after {month} is {next_month}.
What day comes after {day}?|The day after {day} is {next_day}.
How many seconds are there in a minute?|There are sixty seconds in a minute.
How can I keep my house warm for less money?|Close curtains at dusk, block draughts and wear an extra layer.
What should you keep in a first-aid kit?|Plasters, bandages, antiseptic wipes, scissors and a list of emergency numbers.
Who should I call in an emergency?|Call the emergency services straight away and explain where you are.
How do I clean a kettle?|Fill it with water and a little vinegar, boil it, leave it, then rinse well.
How can I remember where I parked?|Take a photo of the sign with the level and row number.
What is a good present for someone who has everything?|A handwritten card, a day out or a favourite treat.
""")

FACTS = lines("""
There are seven days in a week and twelve months in a year.
A year usually has 365 days, but every fourth year has 366.
The extra day in a leap year is added to the end of February.
Many old towns grew up beside a river or at a place where roads met.
Markets were often held in the same square for hundreds of years.
Before refrigerators were common, many families kept food cool in a pantry or a cellar.
The printing press made books much cheaper and helped more people learn to read.
The first public railways opened in the early nineteenth century.
Railways made it possible to travel in a day a distance that once took a week.
The telephone was invented in the 1870s and slowly spread into homes over the following decades.
For a long time, letters were the main way to keep in touch with relatives far away.
Early photographs needed people to sit very still for a long time.
Electric street lights spread through many cities in the late nineteenth and early twentieth centuries.
Public libraries became common in many countries during the nineteenth century.
Until the twentieth century, most people lived and worked in the countryside.
Today, more than half of the people in the world live in towns and cities.
The first cars were slow, noisy and very expensive.
In many countries, school became free and compulsory for young children in the late 1800s.
Radio became popular in homes in the 1920s and 1930s.
Television spread quickly in many countries during the 1950s and 1960s.
The first commercial passenger flights were small and carried only a few people.
Many everyday objects, such as zips and paper clips, were invented less than two hundred years ago.
Paper money has been used in some parts of the world for over a thousand years.
People have been using calendars to organise their lives for thousands of years.
Many towns still have streets named after the trades once carried out there, such as Mill Lane or Market Street.
Postcards became popular in the early twentieth century as a cheap way to send a short message.
Washing machines changed daily life by saving many hours of work each week.
Before mains water, people often collected water from a village pump or well.
Canals were once an important way to move heavy goods across the country.
Many old buildings have been turned into libraries, offices or flats.
The Nile and the Amazon are two of the longest rivers in the world.
Mount Everest, on the border between Nepal and China, is the highest mountain above sea level.
The Pacific is the largest ocean on Earth.
Asia is the largest continent by both area and population.
Australia is both a country and a continent.
The Sahara is the largest hot desert in the world.
Russia is the largest country in the world by area.
Canada is the second largest country in the world by area.
The Alps stretch across several countries, including France, Switzerland, Italy and Austria.
Many rivers flow through more than one country on their way to the coast.
The equator divides the Earth into the northern and southern halves.
When it is summer in Europe, it is winter in Australia and South America.
London, Paris and New York are among the most visited cities in the world.
Many countries have more than one official language.
Time zones mean that it can be morning in one country and evening in another.
The Earth goes round the Sun once a year and spins once a day.
The Moon goes round the Earth roughly once a month.
Water boils at 100 degrees Celsius at normal air pressure.
Water freezes at 0 degrees Celsius, which is 32 degrees Fahrenheit.
A kilometre is a little more than half a mile.
One metre is equal to one hundred centimetres.
A litre of water weighs about one kilogram.
There are sixty seconds in a minute and sixty minutes in an hour.
The human body has 206 bones in adulthood.
An adult heart beats roughly sixty to a hundred times a minute when resting.
Most people blink several thousand times a day without noticing.
Honey can last for a very long time if it is kept sealed.
Bananas are picked green and ripen on their way to the shops.
Rice is the main food for more than half of the people in the world.
Potatoes were first grown in South America.
Tea is one of the most popular drinks in the world, after water.
Coffee plants grow best in warm, hilly places near the equator.
Glass can be recycled again and again without losing its quality.
Recycling one aluminium can saves enough energy to run a television for a few hours.
Paper is made mainly from wood pulp, although it can also be made from old paper.
Many plastics take hundreds of years to break down.
Cotton comes from a plant, while wool comes from sheep.
Most modern pencils do not contain any lead; the centre is made of graphite and clay.
The word "alphabet" comes from the first two letters of the Greek alphabet, alpha and beta.
English has borrowed words from many other languages, including French, Latin and Hindi.
Words like "cafe", "menu" and "ballet" came into English from French.
Some of the most common words in English are "the", "and", "of" and "to".
A sentence usually needs a subject and a verb.
Most dictionaries list words in alphabetical order.
Libraries often let you borrow books, films and music for free.
In many countries, people drive on the right, but in some they drive on the left.
The first cash machines appeared in the 1960s.
Supermarkets with self-service shelves became common after the middle of the twentieth century.
Before supermarkets, most people bought food from separate shops, such as the butcher and the greengrocer.
Many people now do some of their shopping online.
The bicycle became popular in the late nineteenth century and gave many people a new kind of freedom.
The first traffic signals were put up before cars were common, to control horse-drawn traffic.
Many towns have a war memorial, a town hall and a market square at their centre.
Street names and house numbers make it possible for the post to be delivered quickly.
Postcodes were introduced in many countries in the twentieth century to help sort mail.
{geo_capital} is the capital of {geo_country}.
{geo_country} is a country in {geo_continent}.
Many people in {geo_country} speak {geo_language}.
The capital city of {geo_country}, {geo_capital}, is home to many museums and historic buildings.
Visitors to {geo_capital} often spend a few days exploring the old streets and markets.
{geo_country} shares its history with many neighbouring countries.
""")

NUMBERS = lines("""
The library is open from {time} to {time2}, Monday to {day}.
Tickets cost {price2} for adults and {price} for children under {age_small}.
The meeting has been moved to {day}, {date}, at {time}.
The train leaves at {time} and arrives in {city} about {hours} hours later.
The shop is at number {n2}, {street}, next to the chemist.
Please arrive {minutes} minutes before your appointment.
The flat is on the {ordinal} floor and has {nw} rooms.
The rent is {price_big} a month, including water but not electricity.
The course runs for {nw} weeks, starting on {date}.
The building was finished in {year} and renovated in {year2}.
The town has a population of about {big} people.
Around {pct} percent of the people who answered the survey said they walk to work.
The journey is {n2} kilometres, which takes about {minutes} minutes by car.
The box measures {n2} centimetres by {n3} centimetres.
The bag weighs {n} kilograms, which is just under the limit.
The doctor's surgery is open until {time2} on {day}s.
The sale starts on {date} and ends on {date2}.
The parcel should arrive between {time} and {time2} on {day}.
The museum is closed on {day}s, except during the school holidays.
The swimming pool is open from {time} until {time2}, and the last entry is half an hour before closing.
Your reference number is {ref}; please quote it if you call.
The phone number for the office is 01{n}{n2} {big}.
The bill came to {price_big}, and they split it {nw} ways.
The car park charges {price} for the first hour and {price2} for each hour after that.
The event is free, but places are limited to {n2} people.
The doors open at {time}, and the show starts at {time2}.
The children's party is on {day}, from two until four.
Please reply by {date} so that we know how many people to expect.
The cafe serves breakfast until {time}, and lunch from twelve.
The next bus is in {minutes} minutes.
There are {n2} students in the class: {a} boys and {b} girls.
The hall has enough chairs for {n2} people.
The appointment lasts about {minutes} minutes.
The hall can seat {big} people.
{Name} was born on {date}, {year}.
{Name} turned {age} on {day} and celebrated with a small party.
The wedding is on {date}, and the reception starts at {time}.
The cheque was for {price_big}, but the bank did not accept it because it was not signed.
It takes {nw} days for the paint to dry completely.
The office is closed from {date} to {date2} for the holidays.
In {year}, the town opened a new library with more than {big} books.
The shop sold {big} copies of the new novel in the first week.
The walk is {n} miles long and takes about {hours} hours.
Room {n}{n3} is on the {ordinal} floor, at the end of the corridor.
The concert lasted {hours} hours, with a twenty-minute interval.
The price has gone down from {price2} to {price}, a saving of almost {pct} percent.
The batteries should last for about {n2} hours of use.
There were {big} visitors to the museum last {month}.
Doors close at {time} sharp; latecomers will not be admitted until the interval.
Check-in is from {time}, and rooms must be vacated by eleven on the day you leave.
The warranty lasts for {nw} years from the date of purchase.
The waiting time at the clinic is currently about {minutes} minutes.
On average, {name} spends {price} a week on lunch.
{Name} has read {n2} books so far this year.
The survey had {big} replies, and most people were happy with the service.
{Name} saved {price_big} in {year}, which {he} put towards a new sofa.
""")

TODO_ITEMS = lines("""
Call the dentist to change the appointment
Return the library books
Pay the electricity bill
Buy a birthday card for {name3}
Pick up the dry cleaning
Book a table for {day}
Take the old clothes to the charity shop
Renew the car insurance
Reply to {name3}'s email
Fix the handle on the {room} door
Post the birthday parcel
Get the bike tyres pumped up
Ring the landlord about the boiler
Order more printer ink
Change the bed sheets
Defrost the freezer
Sort out the photos from the holiday
Buy stamps
Make a doctor's appointment
Clean the bathroom
Check the train times for {day}
Water the plants on the windowsill
Take the recycling out
Cancel the magazine subscription
Find the passport
Send a thank-you card to {name3}
Collect the parcel from the post office
Top up the travel card
Ask {name3} about the spare key
Buy a present for the wedding
Book the car in for a service
Clear out the fridge
""")

PACKING_ITEMS = lines("""
passport
tickets
phone charger
toothbrush and toothpaste
two pairs of trousers
five T-shirts
a warm jumper
comfortable walking shoes
sunglasses
a good book
headphones
a small umbrella
medicine
a travel adapter
a reusable water bottle
pyjamas
a spare pair of glasses
some snacks for the journey
a notebook and pen
a swimming costume
a hairbrush
socks and underwear
the hotel address
some cash in small notes
""")

LIST_TITLES_SHOP = lines("""
Shopping list for {day}:
Things to get from {shop}:
Weekly shop:
For the party on {day}:
Don't forget:
Groceries for the week:
""")

LIST_TITLES_TODO = lines("""
Things to do this weekend:
To do before {day}:
Jobs for this week:
Reminders:
Before we go away:
{Name}'s list for {day}:
""")

LIST_TITLES_PACK = lines("""
What to pack for the trip to {city}:
Packing list:
Things to take on holiday:
Bag for the weekend away:
""")

HOWTO = [
    ("How to clean a microwave", [
        "Fill a bowl with water and add the juice of half a lemon.",
        "Heat it on full power for three minutes.",
        "Leave the door closed for another five minutes.",
        "Wipe the inside with a clean cloth.",
    ]),
    ("How to sew on a button", [
        "Thread a needle and tie a knot at the end of the thread.",
        "Hold the button in place and push the needle up through one hole.",
        "Go down through the opposite hole and repeat five or six times.",
        "Wrap the thread around the stitches under the button a few times.",
        "Tie a knot on the back of the fabric and cut the thread.",
    ]),
    ("How to bleed a radiator", [
        "Turn the heating off and let the radiators cool down.",
        "Put an old towel under the valve at the top of the radiator.",
        "Turn the radiator key slowly until you hear a hissing sound.",
        "Close the valve as soon as water starts to come out.",
        "Turn the heating back on and check the pressure on the boiler.",
    ]),
    ("How to write a thank-you card", [
        "Start with a friendly greeting.",
        "Say clearly what you are thanking the person for.",
        "Add a sentence about why it meant a lot to you.",
        "Finish with a warm closing and your name.",
    ]),
    ("How to make a good cup of tea", [
        "Boil fresh water in the kettle.",
        "Warm the pot or the mug with a little hot water.",
        "Add a tea bag and pour on the water.",
        "Leave it for three to five minutes.",
        "Remove the tea bag and add milk if you like.",
    ]),
    ("How to change a light bulb", [
        "Switch off the light at the wall.",
        "Wait for the old bulb to cool down.",
        "Twist or push the bulb gently to remove it.",
        "Fit the new bulb and switch the light back on.",
    ]),
    ("How to prepare for a job interview", [
        "Read about the company and the role.",
        "Think of examples from your past work that show your skills.",
        "Plan your journey and aim to arrive ten minutes early.",
        "Prepare one or two questions to ask at the end.",
        "Get a good night's sleep the night before.",
    ]),
    ("How to unblock a sink", [
        "Remove any hair or food you can see from the plughole.",
        "Pour a kettle of hot water slowly down the drain.",
        "Use a plunger, covering the overflow with a damp cloth.",
        "If it is still blocked, clean the trap under the sink over a bucket.",
    ]),
    ("How to look after a library book", [
        "Keep it away from food and drink.",
        "Use a bookmark instead of folding the corners of the pages.",
        "Carry it in a bag to keep it clean.",
        "Return it on time, or renew it online.",
    ]),
    ("How to pack a suitcase", [
        "Make a list before you start.",
        "Put heavy items, such as shoes, at the bottom near the wheels.",
        "Roll soft clothes to save space.",
        "Keep medicines and documents in your hand luggage.",
        "Leave a little room for anything you buy while you are away.",
    ]),
    ("How to save a little money each month", [
        "Write down everything you spend for one month.",
        "Look for regular costs you no longer need, such as unused subscriptions.",
        "Set up a small automatic transfer to a savings account on payday.",
        "Plan your meals and take lunch to work.",
    ]),
    ("How to wash a woollen jumper", [
        "Check the label first.",
        "Use cool water and a gentle wool detergent.",
        "Squeeze the water out; do not wring or twist it.",
        "Dry it flat on a towel, away from direct heat.",
    ]),
    ("How to get a better night's sleep", [
        "Go to bed and get up at the same time each day.",
        "Avoid coffee and tea after the middle of the afternoon.",
        "Keep the bedroom cool, dark and quiet.",
        "Put your phone away at least half an hour before bed.",
    ]),
    ("How to remove a sticker from glass", [
        "Peel off as much of the sticker as you can.",
        "Soak a cloth in warm, soapy water and lay it over the rest for ten minutes.",
        "Scrape gently with a plastic card.",
        "Clean the glass with a little vinegar and dry it.",
    ]),
    ("How to give clear directions", [
        "Start from a place the other person knows.",
        "Mention landmarks, such as a bank, a church or a petrol station.",
        "Say how far to go or how long it takes to walk.",
        "Repeat the last turn at the end.",
    ]),
]

NOTICES = lines("""
LOST: a small {colour} purse near {place} on {day}. If found, please call {name3} on the number below.
FOUND: a set of keys on a {colour} key ring outside {shop}. Please ask at the counter.
FOR SALE: a {colour} sofa in good condition, {price_big} or nearest offer. Buyer collects.
FOR SALE: a child's bike, suitable for ages five to eight, {price}.
ROOM TO LET: a bright double room in a shared house on {street}. Suitable for a non-smoker.
WANTED: a second-hand desk for a student. Please contact {name3}.
Please do not park in front of the garage. Thank you.
The lift is out of order. We are sorry for any inconvenience.
Please keep this door closed at all times.
The office will be closed on {date}. Normal hours will resume on {day}.
Quiet please: exams in progress.
Please leave your wet umbrellas at the door.
The toilets are on the {ordinal} floor.
Back in ten minutes.
Closed for staff training on {day} morning. We will open at {time}.
Please take a number and wait to be called.
Mind the step.
No cycling on the pavement.
All visitors must sign in at reception.
Please switch off the lights when you leave the room.
The kitchen must be left clean and tidy after use.
Coffee morning in the church hall this {day} at {time}. Everyone welcome!
Book swap every {day} in the library: bring a book, take a book.
Yoga for beginners, {day} evenings at {time2}, community centre, first class free.
Help wanted: part-time shop assistant, weekends only. Apply inside.
Friendly conversation group for people learning English, every {day} at {time}.
Jumble sale on {date}. Doors open at {time}. All proceeds to the school library.
The road will be closed from {date} to {date2} for resurfacing work.
Dog owners are asked to clean up after their pets.
""")

REFLECTIONS = lines("""
It is surprising how much better a room looks after ten minutes of tidying.
Most problems seem smaller after a good night's sleep.
There is something comforting about a routine, even a boring one.
Small kindnesses, like holding a door open, can change someone's whole day.
It is easy to forget how far we have come until we look at old photographs.
People often say they have no time, but most of us find time for the things we enjoy.
A good neighbour is worth more than a big house.
The best conversations often happen in the kitchen.
Nobody ever regrets taking a short walk.
Lists are useful, but only if you remember to look at them.
It is never too late to learn something new.
Everyone has a favourite mug, even if they do not admit it.
The quickest way to lose something is to put it somewhere safe.
Saying "thank you" costs nothing and means a lot.
A little planning at the start of the week can save a lot of stress later.
Some of the nicest days are the ones with no plans at all.
Children notice everything, especially the things you hope they will not.
Every family has its own jokes that nobody else understands.
Most towns have a cafe where everybody seems to know everybody else.
Public libraries are among the few places where you can spend the whole day without spending any money.
Moving house is exciting and exhausting in equal measure.
A clean kitchen at the end of the day makes the next morning much easier.
It is easier to keep in touch with friends if you arrange the next meeting before you say goodbye.
Not every day has to be productive.
Asking for directions is nothing to be embarrassed about.
A hot drink on a cold morning is one of life's small pleasures.
Good manners are mostly about making other people feel comfortable.
The first day at a new job is always the hardest.
There is always more washing than you expect.
Old friends are the ones who remember what you were like before.
Listening is often more helpful than giving advice.
You can learn a lot about a town by walking around it slowly.
Being on time is a way of showing respect for other people's time.
Most people are kinder than we expect them to be.
Getting lost is sometimes the best way to find somewhere new.
""")

DIALOGUE_SETTINGS = lines("""
{Name} and {name2} were waiting at the bus stop on {street}.
{Name} met {name2} in the queue at {shop}.
It was nearly {time} when {name2} knocked on {name}'s door.
{Name} was making {meal} when {name2} came into the kitchen.
On {day} afternoon, {name} phoned {name2}.
{Name} and {name2} were sitting in a small cafe on {street}.
{name2} caught up with {name} outside {place}.
At the end of the working day, {name} stopped by {name2}'s desk.
{Name} and {name2} were walking home from {place}.
The train was quiet, and {name} found a seat opposite {name2}.
{Name} was unpacking the shopping when {name2} got home.
{Name} and {his} {rel} were sitting at the kitchen table.
{name2} was already at the restaurant when {name} arrived.
{Name} stopped a passer-by near {place}.
The shop was almost empty when {name} went up to the counter.
""")


# ---------------------------------------------------------------------------
# Slot filling
# ---------------------------------------------------------------------------

SHORT_NUMBER_WORDS = ["two", "three", "four", "five"]
LANGUAGES = ["Spanish", "French", "Italian", "German", "Portuguese", "Polish",
             "Japanese", "Greek", "Dutch", "Arabic"]
TIME_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six",
              7: "seven", 8: "eight", 9: "nine", 10: "ten", 11: "eleven",
              12: "twelve"}
MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def pick_other(rng, pool, *avoid):
    while True:
        x = rng.choice(pool)
        if x not in avoid:
            return x


def fmt_time(rng, hour, minute, style):
    h12 = hour % 12 or 12
    if style == 0:  # 24-hour style with colon, e.g. 7:45 or 18:30
        return "%d:%02d" % (hour, minute)
    if style == 1:  # a.m. / p.m.
        suffix = "a.m." if hour < 12 else "p.m."
        if minute == 0:
            return "%d %s" % (h12, suffix)
        return "%d.%02d %s" % (h12, minute, suffix)
    # spoken style
    if hour == 12 and minute == 0:
        return "noon"
    word = TIME_WORDS[h12]
    nxt = TIME_WORDS[h12 % 12 + 1]
    if minute == 0:
        return word + " o'clock"
    if minute == 30:
        return "half past " + word
    if minute == 15:
        return "quarter past " + word
    if minute == 45:
        return "quarter to " + nxt
    return "%d:%02d" % (h12, minute)


def ordinal_suffix(d):
    if 11 <= d % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")


def fmt_date(mi, d, style):
    m = MONTHS[mi]
    if style == 0:
        return "%d %s" % (d, m)
    if style == 1:
        return "%s %d" % (m, d)
    return "the %d%s of %s" % (d, ordinal_suffix(d), m)


def fmt_money(amount, currency, whole=False):
    if whole:
        s = "{:,}".format(int(amount))
    else:
        s = "%.2f" % amount
        if s.endswith(".00"):
            s = s[:-3]
    if currency == "$":
        return "$" + s
    return s + " " + currency


def fmt_big(n):
    return "{:,}".format(n)


def strip_article(phrase):
    for art in ("a ", "an "):
        if phrase.startswith(art):
            return phrase[len(art):]
    return phrase


def paragraph_people(rng):
    female = rng.random() < 0.5
    name = rng.choice(NAMES_F if female else NAMES_M)
    others = NAMES_F + NAMES_M
    name2 = pick_other(rng, others, name)
    name3 = pick_other(rng, others, name, name2)
    if female:
        pro = {"he": "she", "him": "her", "his": "her", "himself": "herself"}
    else:
        pro = {"he": "he", "him": "him", "his": "his", "himself": "himself"}
    ctx = {
        "name": name, "Name": name, "name2": name2, "name3": name3,
        "he": pro["he"], "him": pro["him"], "his": pro["his"],
        "himself": pro["himself"], "He": pro["he"].capitalize(),
        "His": pro["his"].capitalize(),
        "rel": rng.choice(RELATIVES),
        "city": rng.choice(CITIES),
        "company": rng.choice(COMPANIES),
        "surname": rng.choice(SURNAMES),
        "job": rng.choice(JOBS),
    }
    return ctx


def sentence_slots(rng, para):
    ctx = dict(para)
    # people-independent vocabulary
    ctx["street"] = rng.choice(STREETS)
    ctx["shop"] = rng.choice(SHOPS)
    ctx["place"] = rng.choice(PLACES)
    ctx["room"] = rng.choice(ROOMS)
    ctx["chore"] = rng.choice(CHORES)
    ctx["chore2"] = pick_other(rng, CHORES, ctx["chore"])
    ctx["subject"] = rng.choice(SUBJECTS)
    ctx["subject2"] = pick_other(rng, SUBJECTS, ctx["subject"])
    ctx["job2"] = pick_other(rng, JOBS, ctx["job"])
    ctx["transport"] = rng.choice(TRANSPORT)
    ctx["Transport_cap"] = ctx["transport"][0].upper() + ctx["transport"][1:]
    ctx["feeling"] = rng.choice(FEELINGS)
    ctx["hobby"] = rng.choice(HOBBIES)
    ctx["drink"] = rng.choice(DRINKS)
    ctx["meal"] = rng.choice(MEALS)
    ctx["dish"] = rng.choice(DISHES)
    f = rng.sample(FOODS, 3)
    ctx["food"], ctx["food2"], ctx["food3"] = f
    it = rng.sample(ITEMS, 2)
    ctx["item"], ctx["item2"] = it
    ctx["clothing"] = rng.choice(CLOTHING)
    ctx["clothing_noun"] = strip_article(ctx["clothing"])
    ctx["colour"] = rng.choice(COLOURS)
    ctx["dept"] = rng.choice(DEPTS)
    ctx["task"] = rng.choice(TASKS)
    ctx["country"] = rng.choice(COUNTRIES)
    ctx["language"] = rng.choice(LANGUAGES)
    ctx["adj_good"] = rng.choice(GOOD_ADJ)
    ctx["adj_bad"] = rng.choice(BAD_ADJ)
    ctx["letter"] = rng.choice("ABCDEFGHIJKLMNOPRSTW")
    # days and dates
    di = rng.randrange(7)
    ctx["day"] = DAYS[di]
    ctx["next_day"] = DAYS[(di + 1) % 7]
    ctx["day2"] = pick_other(rng, DAYS, ctx["day"])
    mi = rng.randrange(12)
    ctx["month"] = MONTHS[mi]
    ctx["next_month"] = MONTHS[(mi + 1) % 12]
    d = rng.randint(1, MONTH_DAYS[mi])
    dstyle = rng.randrange(3)
    ctx["date"] = fmt_date(mi, d, dstyle)
    d2, mi2 = d + rng.randint(2, 14), mi
    if d2 > MONTH_DAYS[mi]:
        d2 -= MONTH_DAYS[mi]
        mi2 = (mi + 1) % 12
    ctx["date2"] = fmt_date(mi2, d2, dstyle)
    # times
    tstyle = rng.randrange(3)
    h1 = rng.randint(7, 11)
    m1 = rng.choice([0, 0, 15, 30, 30, 45, 10, 20, 40, 50])
    h2 = rng.randint(h1 + 3, min(h1 + 10, 20))
    m2 = rng.choice([0, 0, 30, 15, 45])
    ctx["time"] = fmt_time(rng, h1, m1, tstyle)
    ctx["time2"] = fmt_time(rng, h2, m2, tstyle)
    # numbers
    ctx["n"] = str(rng.randint(2, 9))
    ctx["n2"] = str(rng.randint(10, 60))
    ctx["n3"] = str(rng.randint(10, 90))
    ctx["nw"] = rng.choice(NUMBER_WORDS)
    ctx["nw2"] = rng.choice(NUMBER_WORDS)
    ctx["ordinal"] = rng.choice(ORDINALS)
    ctx["big"] = fmt_big(rng.choice([rng.randint(120, 990), rng.randint(1000, 9000),
                                     rng.randint(10, 95) * 1000]))
    y = rng.randint(1952, 2021)
    ctx["year"] = str(y)
    ctx["year2"] = str(rng.randint(y + 1, 2023))
    ctx["pct"] = str(rng.choice(range(10, 80, 5)))
    ctx["minutes"] = str(rng.choice([5, 10, 15, 20, 25, 30, 35, 40, 45]))
    ctx["hours"] = rng.choice(SHORT_NUMBER_WORDS)
    ctx["age"] = str(rng.randint(19, 84))
    ctx["age2"] = str(rng.randint(18, 40))
    ctx["age_small"] = str(rng.randint(3, 12))
    ctx["ref"] = "%s%s%d" % (rng.choice("ABCDEFGHJKLMNPRSTW"), rng.choice("ABCDEFGHJKLMNPRSTW"),
                             rng.randint(10000, 99999))
    cur = rng.choice(["$", "pounds", "euros"])
    p1 = rng.choice([rng.randint(1, 30), rng.randint(1, 20) + rng.choice([0.5, 0.25, 0.99, 0.75])])
    p2 = p1 + rng.choice([1, 2, 0.5, 1.5, 3, 5])
    ctx["price"] = fmt_money(p1, cur)
    ctx["price2"] = fmt_money(p2, cur)
    ctx["price_big"] = fmt_money(rng.randint(12, 150) * 10, cur, whole=True)
    a, b = rng.randint(2, 12), rng.randint(2, 12)
    ctx["a"], ctx["b"] = str(a), str(b)
    ctx["a_plus_b"], ctx["a_times_b"] = str(a + b), str(a * b)
    even = rng.randint(2, 60) * 2
    ctx["even"], ctx["half"] = str(even), str(even // 2)
    g = rng.choice(GEO)
    ctx["geo_country"], ctx["geo_capital"], ctx["geo_continent"], ctx["geo_language"] = g
    return ctx


def tidy(text):
    return text.replace("a.m..", "a.m.").replace("p.m..", "p.m.")


def fill(rng, template, para):
    return tidy(template.format_map(sentence_slots(rng, para)))


# ---------------------------------------------------------------------------
# Paragraph builders
# ---------------------------------------------------------------------------

PRONOUN_SLOTS = ("{He}", "{he}", "{His}", "{his}", "{him}", "{himself}")


def name_first(rng, bank, chosen):
    """Make sure a paragraph that uses pronouns opens by naming its person."""
    if not any(p in t for t in chosen for p in PRONOUN_SLOTS):
        return
    if chosen[0].startswith("{Name}"):
        return
    for i, t in enumerate(chosen):
        if t.startswith("{Name}"):
            chosen.insert(0, chosen.pop(i))
            return
    openers = [t for t in bank if t.startswith("{Name}") and t not in chosen]
    if openers:
        chosen[0] = rng.choice(openers)


def prose(rng, bank, lo, hi, extra=None):
    para = paragraph_people(rng)
    k = min(rng.randint(lo, hi), len(bank))
    chosen = rng.sample(bank, k)
    name_first(rng, bank, chosen)
    if extra is not None and rng.random() < 0.25:
        pos = rng.choice([0, len(chosen)])
        chosen.insert(pos, rng.choice(extra))
    return " ".join(fill(rng, t, para) for t in chosen)


def attribute(rng, line, speaker):
    """Put a spoken line into quotation marks with a speaker tag."""
    form = rng.random()
    if line.endswith("?") and "." not in line:
        if form < 0.4:
            return '"%s" asked %s.' % (line, speaker)
        if form < 0.7:
            return '%s asked, "%s"' % (speaker, line)
        return '"%s"' % line
    if line.endswith("!"):
        if form < 0.5:
            return '"%s" said %s.' % (line, speaker)
        return '"%s"' % line
    if line.endswith("?"):
        if form < 0.5:
            return '%s said, "%s"' % (speaker, line)
        return '"%s"' % line
    body = line[:-1] if line.endswith(".") else line
    verb = rng.choice(["said", "said", "replied", "answered", "added", "explained"])
    if form < 0.45:
        return '"%s," %s %s.' % (body, verb, speaker)
    if form < 0.65:
        return '%s said, "%s"' % (speaker, line)
    words = line.split(" ")
    if form < 0.8 and len(words) >= 6 and not re.search(r"[.?!;:]", body):
        # split a single-sentence line around the speaker tag
        cut = rng.randint(2, 4)
        first = " ".join(words[:cut]).rstrip(",")
        rest = " ".join(words[cut:])
        return '"%s," said %s, "%s"' % (first, speaker, rest)
    return '"%s"' % line


def dialogue(rng):
    para = paragraph_people(rng)
    out = [fill(rng, rng.choice(DIALOGUE_SETTINGS), para)]
    a, b = para["name"], para["name2"]
    for ex in rng.sample(DIALOGUE, rng.randint(2, 4)):
        ctx = sentence_slots(rng, para)
        parts = [tidy(p.format_map(ctx)) for p in ex.split("|")]
        if rng.random() < 0.5:
            a, b = b, a
        speakers = [a, b, a]
        for i, line in enumerate(parts):
            out.append(attribute(rng, line, speakers[i]))
    return "\n".join(out)


def qa(rng):
    para = paragraph_people(rng)
    style = rng.randrange(3)
    out = []
    for pair in rng.sample(QA, rng.randint(3, 5)):
        ctx = sentence_slots(rng, para)
        q, a = [tidy(p.format_map(ctx)) for p in pair.split("|")]
        if style == 0:
            out.append("Q: %s\nA: %s" % (q, a))
        elif style == 1:
            out.append("Question: %s\nAnswer: %s" % (q, a))
        else:
            out.append("%s %s" % (q, a))
    if style == 2:
        return " ".join(out)
    return "\n".join(out)


def email(rng):
    para = paragraph_people(rng)
    c = lambda t: fill(rng, t, para)
    out = []
    if rng.random() < 0.6:
        out.append("Subject: " + c(rng.choice(EMAIL_SUBJECTS)))
    greeting = rng.choice(["Hi %s," % para["name2"], "Dear %s," % para["name2"],
                           "Hello %s," % para["name2"], "Hi all,", "Dear colleagues,",
                           "Dear %s %s," % (para["name2"], para["surname"])])
    out.append(greeting)
    body = [c(rng.choice(EMAIL_OPENERS))]
    body += [c(t) for t in rng.sample(EMAIL_BODY, rng.randint(2, 4))]
    out.append(" ".join(body))
    if rng.random() < 0.8:
        out.append(c(rng.choice(EMAIL_CLOSERS)))
    out.append(rng.choice(EMAIL_SIGNOFFS))
    out.append(para["name"] if rng.random() < 0.6 else "%s %s" % (para["name"], rng.choice(SURNAMES)))
    return "\n".join(out)


def make_list(rng):
    para = paragraph_people(rng)
    kind = rng.randrange(3)
    if kind == 0:
        title = fill(rng, rng.choice(LIST_TITLES_SHOP), para)
        pool = FOODS + [strip_article(i) for i in ITEMS]
        items = rng.sample(pool, rng.randint(4, 8))
    elif kind == 1:
        title = fill(rng, rng.choice(LIST_TITLES_TODO), para)
        items = [fill(rng, t, para) for t in rng.sample(TODO_ITEMS, rng.randint(3, 7))]
    else:
        title = fill(rng, rng.choice(LIST_TITLES_PACK), para)
        items = rng.sample(PACKING_ITEMS, rng.randint(5, 9))
    numbered = rng.random() < 0.35
    body = []
    for i, it in enumerate(items, 1):
        body.append(("%d. %s" % (i, it)) if numbered else ("- " + it))
    out = title + "\n" + "\n".join(body)
    if rng.random() < 0.4:
        # the same items written as a sentence
        if len(items) > 2:
            phrase = ", ".join(items[:-1]) + " and " + items[-1]
        else:
            phrase = " and ".join(items)
        if kind == 0:
            lead = "%s needed %s." % (para["name"], phrase)
        elif kind == 1:
            lead = "%s had %s things to do: %s." % (
                para["name"], NUMBER_WORDS[len(items) - 2] if len(items) <= 12 else len(items),
                "; ".join(i[0].lower() + i[1:] for i in items))
        else:
            lead = "%s packed %s." % (para["name"], phrase)
        out = lead + "\n" + out if rng.random() < 0.5 else out + "\n" + lead
    return out


def howto(rng):
    title, steps = rng.choice(HOWTO)
    if rng.random() < 0.5:
        body = "\n".join("%d. %s" % (i, s) for i, s in enumerate(steps, 1))
        return title + "\n" + body
    words = ["First", "Next", "Then", "After that", "Finally"]
    parts = []
    for i, s in enumerate(steps):
        w = words[min(i, 3)] if i < len(steps) - 1 else "Finally"
        parts.append("%s, %s" % (w, s[0].lower() + s[1:]))
    return title + ". " + " ".join(parts)


def notices(rng):
    para = paragraph_people(rng)
    lead = rng.choice(["On the noticeboard:", "Notices:", "Seen around town this week:",
                       "From the community noticeboard:", "Signs on the door:"])
    items = [fill(rng, t, para) for t in rng.sample(NOTICES, rng.randint(2, 4))]
    return lead + "\n" + "\n".join(items)


def diary(rng):
    para = paragraph_people(rng)
    ctx = sentence_slots(rng, para)
    head = rng.choice(["%s, %s." % (ctx["day"], ctx["date"]), "%s." % ctx["day"],
                       "Dear diary,", "%s %s." % (ctx["day"], rng.choice(["morning", "evening", "night"]))])
    body = " ".join(fill(rng, t, para) for t in rng.sample(FIRST_PERSON, rng.randint(3, 6)))
    return head + "\n" + body


def facts(rng):
    para = paragraph_people(rng)
    lead = rng.choice(["", "", "Here are a few facts worth knowing. ", "Did you know? ",
                       "Some general knowledge: ", ""])
    return lead + " ".join(fill(rng, t, para) for t in rng.sample(FACTS, rng.randint(3, 6)))


def health(rng):
    lead = rng.choice(["", "", "A few simple health tips: ", "Small habits make a difference. ",
                       "Advice from the health centre: ", ""])
    para = paragraph_people(rng)
    chosen = rng.sample(HEALTH, rng.randint(3, 6))
    name_first(rng, HEALTH, chosen)
    return lead + " ".join(fill(rng, t, para) for t in chosen)


def mixed(rng):
    """A short paragraph mixing everyday banks around one person."""
    para = paragraph_people(rng)
    banks = rng.sample([NARRATION, SHOPPING, COMMUTE, HOUSEHOLD, FAMILY, WORK], 2)
    chosen = rng.sample(banks[0], rng.randint(2, 3)) + rng.sample(banks[1], rng.randint(1, 3))
    name_first(rng, banks[0], chosen)
    if rng.random() < 0.3:
        chosen.append(rng.choice(REFLECTIONS))
    return " ".join(fill(rng, t, para) for t in chosen)


BUILDERS = [
    (14, lambda r: prose(r, NARRATION, 4, 7, REFLECTIONS)),
    (7, diary),
    (7, lambda r: prose(r, SHOPPING, 3, 6, REFLECTIONS)),
    (6, lambda r: prose(r, COMMUTE, 3, 6, REFLECTIONS)),
    (6, lambda r: prose(r, SCHOOL, 3, 6, REFLECTIONS)),
    (6, lambda r: prose(r, FAMILY, 3, 6, REFLECTIONS)),
    (6, lambda r: prose(r, HOUSEHOLD, 3, 6, REFLECTIONS)),
    (6, lambda r: prose(r, WORK, 3, 6, REFLECTIONS)),
    (8, mixed),
    (4, health),
    (7, email),
    (9, dialogue),
    (4, qa),
    (3, facts),
    (4, lambda r: prose(r, NUMBERS, 3, 5)),
    (4, make_list),
    (1, howto),
    (2, notices),
]


def generate(seed=SEED, target=TARGET_CHARS):
    rng = random.Random(seed)
    weights = [w for w, _ in BUILDERS]
    funcs = [f for _, f in BUILDERS]
    paragraphs, total, seen = [], 0, set()
    while total < target:
        p = rng.choices(funcs, weights)[0](rng)
        if p in seen:
            continue
        seen.add(p)
        paragraphs.append(p)
        total += len(p) + 2
    text = "\n\n".join(paragraphs) + "\n"
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = tidy(text)
    text.encode("ascii")  # fail loudly on any non-ASCII character
    return text


def main():
    text = generate()
    with open(OUT_PATH, "w", encoding="ascii", newline="\n") as fh:
        fh.write(text)
    print("wrote %s (%d bytes, %d paragraphs)" % (OUT_PATH, len(text), text.count("\n\n") + 1))


if __name__ == "__main__":
    main()
