"""Generate the bundled CC0 sample NER corpus (window_ner/ner/data/sample.{train,dev,test}.conll).

The sentences are produced from news-style templates written for this project and filled with names drawn
from the lists below (invented organisations, generic or real place names, given and family names from many
languages); nothing is taken from any existing corpus.  Every sentence is written as raw text, tokenised with
``window_ner.ner.tokenize`` and tagged in IOB2 from the character spans of the filled-in names, so the corpus
follows the tokenizer's conventions.  Output is deterministic for a given seed.

Usage: ``python tools/make_sample_corpus.py [--seed 20240611] [--out src/window_ner/ner/data]``
"""
from __future__ import annotations

import argparse
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from window_ner.ner.tokenize import tokenize  # noqa: E402

SEED = 20240611
N_DOCUMENTS = {"train": 42, "dev": 9, "test": 9}
NOVEL_RATE = 0.35  # chance that a dev/test name is drawn from the names held out of train

# ----------------------------------------------------------------------------------------------------------
# Name lists.


def _names(block: str, sep: str | None = None) -> list[str]:
    """The names in a block of text, separated by ``sep`` (whitespace when None) or by line breaks."""
    if sep is None:
        return block.split()
    return [name.strip() for name in block.replace("\n", sep).split(sep) if name.strip()]


GIVEN = _names("""
Amara Kwame Chidi Ngozi Fatima Omar Layla Yusuf Aisha Hiroshi Yuki Kenji Mei Wei Arjun Priya Ravi Ananya
Sofia Mateo Lucia Diego Camila João Ana Pedro Ingrid Lars Sven Astrid Olga Dmitri Ivan Natalia Katarzyna
Piotr Tomasz Ewa Giulia Marco Luca Francesca Pierre Claire Étienne Amélie Hans Greta Jürgen Lena Seán
Siobhan Liam Aoife Tariq Zainab Mehmet Elif Ayşe Emre Nikos Eleni Kofi Abena Thandiwe Sipho Linh Tuan Oskar
Mateus Isabela Rafael Carmen Javier Aleksandra Mikhail Anya Samir Nadia Hamid Leila Daniel Sarah Michael
Emily David Rachel James Grace Thomas Helen Robert Laura Patrick Nora Erik Marta Jonas Eva Ahmed Salma Kemal
Aziz Tamar Avi Noa Mustafa Hana Kaito Sakura Haruto Aiko Rohan Kavya Bongani Lerato Chinedu Folake Malik
Yasmin Santiago Valentina Joaquín Milagros Henrik Freya Anders Sigrid Václav Zuzana Bogdan Irina Goran
Mirela Dragan Vesna Kamal Nasrin Reza Shirin Ali Huda Tenzin Pema Malia Tevita Aroha Wiremu Marguerite
Antoine Benedikt Friederike Rosa Manuel Inés Tomás Chiara Matteo Zoë Noah Chloe Oliver Hannah Samuel Ruth
Kenta Misaki Jae-won Soo-ah
""")

FAMILY = _names("""
Okafor Mensah Adeyemi Nkosi Diallo Haddad Khalil Rahman Tanaka Sato Nakamura Chen Wang Zhang Liu Patel
Sharma Iyer Gupta Silva Santos Oliveira Pereira García Fernández López Martínez Rossi Bianchi Romano Ricci
Dubois Moreau Lefèvre Laurent Müller Schmidt Becker Hoffmann Jansen Johansson Lindqvist Nilsson Hansen
Virtanen Kowalski Nowak Novák Horvat Popescu Ivanova Petrov Smirnov Kuznetsov Yılmaz Demir Kaya Papadopoulos
Georgiou O'Brien O'Connor Murphy Kelly Walsh MacLeod Campbell Smith Brown Taylor Wilson Evans Clarke Hughes
Kim Park Lee Choi Nguyen Tran Pham Cohen Levi Mizrahi Hosseini Karimi Abdullah Hassan Mwangi Otieno Kamau
Banda Phiri Moyo Herrera Castillo Vargas Rojas Quispe Mendoza Kaur Singh Bose Mukherjee Fonseca Kovalenko
Shevchenko Bondarenko Andersen Eriksen Berg Dahl Asante Boateng Achterberg Kuipers Ferreira Costa Almeida
Barbosa Takahashi Watanabe Yamamoto Ogawa Suzuki Osei Owusu Ndlovu Dlamini Zulu Mahlangu Jovanović Petrović
Kovač Marino Greco Conti Fontaine Girard Weber Wagner Richter Kruger Lindgren Holm Sandberg Novotná
Dvořáková Bakr Farouk Saleh Nasser Rashid Qureshi Chaudhry Malik Ortega Navarro Delgado Ramírez Gómez Torres
Vega
""")
FAMILY += ["van Dijk", "de Vries", "van der Berg", "de la Cruz", "dos Santos", "Al-Mansour", "Ben-David"]

COMPOSERS = _names("""
Mozart Beethoven Chopin Verdi Puccini Sibelius Dvořák Grieg Tchaikovsky Brahms Schubert Mahler Vivaldi
Debussy Ravel Bartók Elgar Rachmaninov Haydn Handel
""")

CITIES = _names("""
Lisbon|Porto|Madrid|Barcelona|Valencia|Seville|Paris|Lyon|Marseille|Toulouse|Berlin|Hamburg|Munich|Frankfurt
Cologne|Vienna|Zürich|Geneva|Basel|Rome|Milan|Naples|Turin|Florence|Athens|Istanbul|Ankara|Izmir|Cairo
Alexandria|Lagos|Abuja|Nairobi|Mombasa|Accra|Kumasi|Johannesburg|Cape Town|Durban|Casablanca|Tunis|Dakar
Addis Ababa|Kampala|Kigali|Lusaka|Harare|Mumbai|New Delhi|Bangalore|Chennai|Kolkata|Karachi|Lahore|Dhaka
Colombo|Kathmandu|Bangkok|Jakarta|Surabaya|Manila|Hanoi|Ho Chi Minh City|Kuala Lumpur|Seoul|Busan|Tokyo
Osaka|Yokohama|Sapporo|Beijing|Shanghai|Guangzhou|Shenzhen|Hong Kong|Taipei|Sydney|Melbourne|Brisbane|Perth
Auckland|Wellington|Christchurch|Toronto|Montreal|Vancouver|Calgary|Chicago|Boston|New York|Los Angeles
Houston|Seattle|Denver|Atlanta|Miami|Mexico City|Guadalajara|Monterrey|Bogotá|Medellín|Lima|Santiago
Buenos Aires|Córdoba|Rosario|São Paulo|Rio de Janeiro|Belo Horizonte|Recife|Montevideo|Quito|Caracas|Havana
Stockholm|Gothenburg|Malmö|Oslo|Bergen|Copenhagen|Aarhus|Helsinki|Tampere|Reykjavik|Dublin|Cork|Edinburgh
Glasgow|Manchester|Liverpool|Leeds|Bristol|London|Cardiff|Belfast|Warsaw|Kraków|Gdańsk|Wrocław|Prague|Brno
Bratislava|Budapest|Bucharest|Cluj|Sofia|Belgrade|Zagreb|Split|Ljubljana|Sarajevo|Kyiv|Lviv|Odesa|Tbilisi
Yerevan|Baku|Almaty|Tashkent|Tehran|Isfahan|Baghdad|Basra|Beirut|Amman|Riyadh|Jeddah|Doha|Dubai|Abu Dhabi
Muscat|Karachi|Rotterdam|Amsterdam|Utrecht|Antwerp|Brussels|Ghent|Luxembourg|St. Petersburg|Novosibirsk
Kazan|Minsk|Vilnius|Riga|Tallinn
""", "|")

COUNTRIES = _names("""
Portugal|Spain|France|Germany|Austria|Switzerland|Italy|Greece|Turkey|Egypt|Nigeria|Kenya|Ghana|South Africa
Morocco|Tunisia|Senegal|Ethiopia|Uganda|Rwanda|Zambia|Zimbabwe|India|Pakistan|Bangladesh|Sri Lanka|Nepal
Thailand|Indonesia|Philippines|Vietnam|Malaysia|Singapore|South Korea|Japan|China|Taiwan|Australia
New Zealand|Canada|United States|Mexico|Colombia|Peru|Chile|Argentina|Brazil|Uruguay|Ecuador|Venezuela|Cuba
Sweden|Norway|Denmark|Finland|Iceland|Ireland|Scotland|Wales|England|Britain|Poland|Czech Republic|Slovakia
Hungary|Romania|Bulgaria|Serbia|Croatia|Slovenia|Bosnia|Ukraine|Georgia|Armenia|Azerbaijan|Kazakhstan
Uzbekistan|Iran|Iraq|Lebanon|Jordan|Saudi Arabia|Qatar|Oman|Netherlands|Belgium|Luxembourg|Russia|Belarus
Lithuania|Latvia|Estonia|Mongolia|Cameroon|Ivory Coast|Mali|Angola|Mozambique|Tanzania|Bolivia|Paraguay
Jamaica|Fiji|Samoa|Tonga
""", "|")

REGIONS = _names("""
Europe|Asia|Africa|Latin America|North America|Scandinavia|the Balkans|the Middle East|the Caribbean
Central Asia|Southeast Asia|the Gulf|West Africa|East Africa|the Pacific
""", "|")

GEO = _names("""
Alps|Andes|Pyrenees|Himalayas|Danube|Rhine|Nile|Niger|Mekong|Sahara|Atlantic|Mediterranean|Baltic Sea
North Sea|Black Sea|Lake Victoria|Lake Geneva|Mount Kenya|Mount Etna|Gulf of Guinea|Bay of Biscay|Amazon
Yangtze|Volga|Caspian Sea|Red Sea|Rift Valley|Atlas Mountains|Carpathians|Dolomites
""", "|")

COMPANY_HEADS = _names("""
Norvale Kestrel Brightwater Solenne Arcturus Halden Meridian Tavira Bluefin Quillon Vantor Pellham Corvid
Lumetra Saxbury Greyfield Nordhavn Altamira Ostrander Velloro Caskade Marbrook Tessaro Wyndale Orison
Belgrave Ferrano Kalvik Zephyra Dunmore Heliant Carrow Obsidian Farlane Ridgeway Sorrento Petrel Aldgate
Myrtle Quenby Invora Lakemont Stellan Crestline Tamsin Harrowgate Ondine Varga Redfern
""")
COMPANY_TAILS = _names("""
Holdings|Airways|Energy|Pharma|Motors|Steel|Bank|Telecom|Foods|Software|Logistics|Group|Systems|Insurance
Capital|Shipping|Cement|Mining|Airlines|Textiles|Media|Chemicals|Brewing|Retail|Electric|Semiconductors|Rail
Partners|Securities|Biotech
""", "|")
COMPANY_SUFFIXES = ["", "", "", "", "", " Inc.", " Corp.", " Ltd", " AG", " SA", " plc"]

CLUB_TOWNS = _names("""
Westmoor Ashcombe Kellerby Dunhallow Marsden Halvik Lesk Brannock Corvallo Tressan Almeida Viana Ostrova
Kirrin Belmonte Sandvik Harwick Calder Rivolta Estrela Portavo Lindau Varnholm Castelnuovo Milbrook Eskdale
Tolvern Ravensby Quarrow Fenwick
""")
CLUB_PATTERNS = ["{} United", "{} Rovers", "{} Athletic", "{} Wanderers", "Sporting {}", "Atlético {}",
                 "Dynamo {}", "Olympia {}", "FC {}", "Real {}", "{} City", "Racing {}"]

INSTITUTIONS = _names("""
United Nations|European Union|World Bank|International Monetary Fund|World Health Organization|NATO
African Union|Red Cross|UNESCO|OPEC|World Trade Organization|European Central Bank|Federal Reserve
Bank of England|Bank of Japan|UN Security Council|European Commission|Arab League|ASEAN|UNICEF
International Olympic Committee|FIFA|Amnesty International|Greenpeace|Interpol|International Energy Agency
Asian Development Bank|Council of Europe|International Court of Justice|World Food Programme
""", "|")

PARTIES = _names("""
Labour Party|Social Democrats|Green Party|Liberal Party|Conservative Party|National Alliance
People's Renewal Party|Christian Democrats|Freedom Union|Progressive Front|Workers' Party|Civic Platform
Democratic Movement|Farmers' League|Socialist Party|New Centre Party|Popular Unity|Reform Bloc|Justice Party
Citizens' Alliance
""", "|")

MEDIA = _names("""
Daily Courier|Northern Herald|Morning Ledger|Evening Standard-Post|Harbour Times|Meridian News Agency
Continental Press|Weekly Observer|National Broadcaster|Capital Radio|Coastal Gazette|Metro Tribune
Star Chronicle|Sunday Sentinel|Eastern Dispatch
""", "|")

UNIVERSITIES = _names("""
University of Lagos|Kyoto University|Oxford University|University of Cape Town|Sorbonne University
Heidelberg University|University of Toronto|Seoul National University|Monash University
University of Nairobi|Charles University|University of Bologna|Uppsala University|McGill University
University of Chile|Delft University of Technology|Tsinghua University|Makerere University
University of Helsinki|Trinity College Dublin
""", "|")

ORCHESTRAS = _names("""
Royal Philharmonic Orchestra|Vienna Symphony|City Chamber Orchestra|National Youth Orchestra
Baltic Sinfonietta|Harbour Festival Choir|Northern Opera Company|Metropolitan Brass Ensemble
""", "|")

NATIONALITIES = _names("""
Portuguese|Spanish|French|German|Austrian|Swiss|Italian|Greek|Turkish|Egyptian|Nigerian|Kenyan|Ghanaian
South African|Moroccan|Senegalese|Ethiopian|Indian|Pakistani|Bangladeshi|Nepali|Thai|Indonesian|Filipino
Vietnamese|Malaysian|Korean|Japanese|Chinese|Australian|Canadian|American|Mexican|Colombian|Peruvian|Chilean
Argentine|Brazilian|Uruguayan|Cuban|Swedish|Norwegian|Danish|Finnish|Icelandic|Irish|Scottish|Welsh|English
British|Polish|Czech|Slovak|Hungarian|Romanian|Bulgarian|Serbian|Croatian|Ukrainian|Georgian|Armenian
Iranian|Iraqi|Lebanese|Jordanian|Saudi|Qatari|Dutch|Belgian|Russian|Lithuanian|Latvian|Estonian|Mongolian
Cameroonian|Malian|Tanzanian|Bolivian|Jamaican|Fijian
""", "|")

EVENTS = _names("""
World Cup|Olympic Games|Tour de France|Champions League|Africa Cup of Nations|Asian Games|Commonwealth Games
Davis Cup|Europa League|Copa América|Rugby World Cup|Winter Olympics|Paralympic Games
World Athletics Championships|Cannes Film Festival|Venice Film Festival|Eurovision Song Contest
Berlin Film Festival|Frankfurt Book Fair|Edinburgh Festival|Ryder Cup|Giro d'Italia|Vuelta a España
Six Nations|Pan American Games|Gold Cup|Fed Cup|America's Cup|Dakar Rally|Asia Cup
""", "|")

LANGUAGES = _names("""
English|French|Arabic|Swahili|Mandarin|Hindi|Portuguese|Spanish|German|Russian|Japanese|Korean|Turkish
Polish|Yoruba|Zulu|Bengali|Tamil|Vietnamese|Greek|Dutch|Italian|Persian|Hebrew|Amharic|Catalan|Basque|Welsh
Finnish|Hungarian
""", "|")

AWARDS = _names("""
Nobel Peace Prize|Booker Prize|Golden Lion|Pulitzer Prize|Palme d'Or|Golden Bear|Ballon d'Or
Nobel Prize in Chemistry|Nobel Prize in Literature|Grammy|Oscar|Pritzker Prize|Turner Prize|Fields Medal
Golden Globe
""", "|")

RELIGIONS = _names("""
Muslim|Christian|Buddhist|Hindu|Catholic|Protestant|Jewish|Orthodox|Sikh|Anglican
""", "|")

TREATIES = _names("""
Paris Agreement|Kyoto Protocol|Geneva Conventions|Schengen Agreement|Maastricht Treaty
Non-Proliferation Treaty|Lisbon Treaty|Montreal Protocol|Helsinki Accords|Dayton Agreement
""", "|")

WORKS = _names("""
The Silent Harbour|Salt and Iron|A Winter in Tessaro|The Glass Orchard|Northern Light|Paper Kings
The Long Crossing|River of Ash|Nine Bridges|The Last Lighthouse|Summer of Stones|Quiet Hours|The Copper Road
Blue Meridian|House of Lanterns|The Orchard Keeper's Daughter|Distant Bells|Iron Tide|The Cartographer
Small Mercies
""", "|")

PRODUCTS = _names("""
Orion 5|Lumo Pad|Zephyra X2|Vantor One|Nimbus Air|Kestrel Z9|Solis Go|Aero 300|Pulse Mini|Halden Pro
""", "|")

NO_ARTICLE = {"Interpol", "Greenpeace", "Amnesty International", "Oxfam", "Human Rights Watch", "OPEC"}

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
QUOTES = [
    "We are very happy with the result", "It was a difficult week for everyone", "We will not give up",
    "The situation is improving slowly", "This is a good day for the country", "We need more time",
    "There is still a lot of work to do", "I am proud of the team", "The decision was the right one",
    "Nobody expected this", "We have made our position clear", "The talks were constructive",
    "Prices will come down next year", "It is too early to say", "We played with great spirit",
    "I don't think the plan will work", "They didn't give us a chance", "We can't accept these terms",
]


# ----------------------------------------------------------------------------------------------------------
# Templates.  {slot} names are listed in SLOTS below; the others (numbers, days) are filled by FILLERS.

TEMPLATES: dict[str, list[str]] = {
    "sport": [
        "{club} beat {club} {score} on {weekday} to move top of the {nat} league.",
        "{country} beat {country} {score} in a {event} qualifier in {city} on {weekday}.",
        "{country} drew {draw} with {country} in a friendly in {city}.",
        "{country} lost {score2b} to {country} in the final of the {event}.",
        "{per} scored twice as {club} won {score} at home to {club}.",
        "{club} coach {per} said his side had deserved the win.",
        "\"{quote},\" {sur} told reporters after the match.",
        "{per} of {country} won the men's 100 metres in {sprint} seconds.",
        "{club} {goals} {club} {goals}",
        "{per} ({country}) beat {per} ({country}) {tennis} {tennis}",
        "The {event} will be held in {city} in {year}.",
        "{country} will face {country} in the semi-finals of the {event} on {weekday}.",
        "{per}, who joined from {club} in {month}, was sent off after {small} minutes.",
        "Leading scores after the first round of the {open} on {weekday}:",
        "{per} ({country}) {score2} {par}",
        "Attendance: {big}.",
        "The match was stopped for {small} minutes because of heavy rain.",
        "{per} has been named captain of the {nat} team for the {event}.",
        "{club} have signed {nat} striker {per} on a three-year contract.",
        "{per} withdrew from the {event} with a knee injury, organisers said.",
        "The {nat} champions were held to a {draw} draw by {club} in {city}.",
        "{per} finished second behind {per}, with {per} of {country} third.",
        "Winner of the stage from {city} to {city}: {per} ({country}) {racetime}",
        "The home side had two goals disallowed in the second half.",
        "{per} said he would retire from international football after the {event}.",
        "Top scorers: {per} ({club}) {small}, {per} ({club}) {small}, {per} ({club}) {small}.",
        "{nat} midfielder {per} signed a new contract with {club} on {weekday}.",
        "{per} and {per} were both booked for the {nat} side.",
        "\"{quote},\" said {per}, whose team meet {club} in the {event} next week.",
    ],
    "politics": [
        "{nat} Prime Minister {per} arrived in {city} on {weekday} for talks with {country}'s leaders.",
        "The {party} won {small} of the {seats} seats in {weekday}'s election, official results showed.",
        "{per}, leader of the opposition {party}, called for early elections.",
        "Foreign ministers from {country} and {country} met in {city} to discuss border security.",
        "The {inst} said it would send observers to monitor the vote in {country}.",
        "Mr. {sur} told parliament that the government would not raise taxes this year.",
        "Thousands of people marched through the centre of {city} on {weekday} to protest against the law.",
        "The agreement must still be approved by the {inst} before it takes effect.",
        "Talks between the two sides are due to resume in {city} next week, a spokesman for the {inst} said.",
        "{nat} President {per} said the {treaty} remained the basis for any settlement.",
        "The president's office declined to comment.",
        "Officials said the vote count would be completed by {weekday}.",
        "{per} resigned as interior minister on {weekday} after a row with the {party}.",
        "The {party} and the {party} agreed to form a coalition government.",
        "{country} recalled its ambassador from {country} in protest at the decision.",
        "Ms. {sur} is expected to visit {city} and {city} later this month.",
        "A spokeswoman for the {nat} foreign ministry said the talks had been useful.",
        "Opinion polls show the {party} leading with {pct} percent support.",
        "{per}, the {nat} ambassador to the {inst}, urged both sides to show restraint.",
        "Parliament is expected to vote on the budget before the end of {month}.",
        "The minister said the government would hold a referendum on the issue.",
        "Voters in {city}, {country}, went to the polls on {weekday} to choose a new mayor.",
        "\"{quote},\" said {per}, a senior member of the {party}.",
        "{per}, a {nat} diplomat, will chair the {inst} committee from {month}.",
        "{nat} and {nat} leaders are expected to sign the {treaty} declaration in {city}.",
    ],
    "business": [
        "Shares in {company} rose {pct} percent to {price} after the company reported higher profits.",
        "{company} said on {weekday} it would cut {big} jobs in {country} over the next two years.",
        "The group, based in {city}, reported a net profit of ${amount} million in the first half.",
        "{company} agreed to buy {company} for ${amount} billion, the companies said in a joint statement.",
        "Analysts at {company} expect the central bank to keep interest rates unchanged.",
        "{per}, chief executive of {company}, said demand in {region} had been weaker than expected.",
        "The {inst} raised its growth forecast for {country} to {pct} percent.",
        "The {nat} currency fell to a record low against the dollar on {weekday}.",
        "Trading volume was thin ahead of the holiday.",
        "Inflation slowed to {pct}% in {month} from {pct}% a month earlier.",
        "{company} shares closed {pct} percent lower at {price}.",
        "The deal values {company} at about {money} million euros, including debt.",
        "{company} will open a new factory near {city} next year, creating {big} jobs.",
        "{per} will step down as chairman of {company} at the end of {month}.",
        "Exports to {country} rose {pct} percent in {month}, official data showed.",
        "Ratings agency {company} cut its outlook on {nat} government bonds to negative.",
        "Mr. {sur} said the company did not expect further job cuts.",
        "The central bank left its main interest rate at {pct} percent.",
        "Revenue rose to {money} million dollars from {money} million a year earlier.",
        "{company} and {company} said they were in talks about a possible merger.",
        "The {nat} economy grew by {pct} percent in the second quarter.",
        "Oil prices rose after {opec} members agreed to extend output cuts.",
        "\"{quote},\" said {per}, an economist at {company} in {city}.",
        "{per}, finance director of {company}, told the {media} that sales had recovered.",
        "The {nat} and {nat} regulators approved the takeover of {company} by {company}.",
    ],
    "weather": [
        "Heavy rain caused flooding across northern {country} on {weekday}, killing at least {small} people.",
        "Temperatures in {city} reached {small} degrees Celsius, the highest since records began.",
        "The storm is expected to reach the coast near {city} late on {weekday}, forecasters said.",
        "Rescue teams from the {inst} arrived in {city} with food and medical supplies.",
        "Snow closed several passes in the {geo} on {weekday}.",
        "An earthquake of magnitude {mag} struck off the coast of {country} early on {weekday}.",
        "The {river} burst its banks near {city}, forcing hundreds of families to leave their homes.",
        "Forecasters expect dry weather to continue through the weekend.",
        "Firefighters were still battling a forest fire near {city}, {country}, on {weekday}.",
        "Drought has cut the harvest in parts of {region} by a third, the {inst} said.",
        "Strong winds disrupted flights at {city} airport for a second day.",
        "The national weather service issued a warning for coastal areas.",
        "More than {big} homes were without power after the storm passed through {city}.",
        "Water levels on the {river} fell slowly on {weekday}.",
    ],
    "culture": [
        "{nat} director {per} won the {award} for the film \"{work}\".",
        "The novel, first written in {lang}, has been translated into {small} languages.",
        "{per}'s new exhibition opens at the {museum} in {city} next month.",
        "The {orchestra} will perform works by {composer} and {composer} at the festival.",
        "More than {big} people attended the opening night.",
        "The {event2} runs until {month} {day}.",
        "\"{work}\", a novel by {per}, was shortlisted for the {award}.",
        "{per}, the {nat} tenor, cancelled his concert in {city} because of illness.",
        "The festival will show {small} films from {country}, {country} and {country}.",
        "Tickets for the concert sold out in less than an hour.",
        "The museum said the painting had been bought by a private collector.",
        "{per} read from her book in {lang} and {lang}.",
        "The film, shot in {city} and {city}, opens in cinemas on {weekday}.",
        "The {award} went to {per} for \"{work}\".",
        "The {media} called the production the best of the season.",
        "{nat} soprano {per} sang the title role, with {per} conducting.",
        "{per} won the {award} last year for the {lang} novel \"{work}\".",
        "The {nat} writer {per} will open the {event2} with a reading on {weekday}.",
    ],
    "science": [
        "Researchers at {univ} said the new treatment had cut infection rates by half.",
        "The {who} warned that the outbreak could spread to neighbouring {country}.",
        "{per}, a professor at {univ}, led the study, which was published on {weekday}.",
        "The {nat} space agency plans to launch the satellite from {city} in {month}.",
        "Scientists found the fossil in a quarry near {city} in {year}.",
        "The vaccine will be tested on {big} volunteers in {country} and {country}.",
        "Dr. {sur} said the results were encouraging but further trials were needed.",
        "The team used data collected over {small} years in the {geo}.",
        "The research was funded by the {inst} and {company}.",
        "Health officials reported {small} new cases on {weekday}.",
        "The study followed more than {big} patients for five years.",
        "{per} and {per} shared the {award} for their work on batteries.",
        "\"{quote},\" said {per}, who heads the research team at {univ}.",
        "The {nat} and {nat} teams published their findings in the journal {journal}.",
    ],
    "crime": [
        "Police in {city} arrested {small} people on {weekday} after a raid on a warehouse.",
        "A court in {city} sentenced {per} to {small} years in prison for fraud.",
        "Lawyers for {per} said they would appeal against the verdict.",
        "{per} denied the charges, his lawyer told the {media}.",
        "Customs officers at {city} seized {small} tonnes of cigarettes hidden in a shipment from {country}.",
        "The trial of {per} is expected to last until {month}.",
        "{interpol} issued an arrest warrant for the former banker.",
        "Prosecutors said the money had been moved through accounts in {country} and {country}.",
        "The judge adjourned the case until {weekday}.",
        "No one was injured in the attack, police said.",
        "Two men were charged with robbery after the incident in central {city}.",
        "The {nat} authorities have asked {country} to extradite {per}.",
        "{per}, a {nat} businessman, was arrested at {city} airport on {weekday}.",
        "{per} told the court that he had never worked for {company}.",
    ],
    "transport": [
        "{airline} will begin direct flights between {city} and {city} in {month}.",
        "The new rail link will cut the journey time from {city} to {city} to {small} hours.",
        "Work on the pipeline from {country} to {country} is expected to finish in {year}.",
        "A bus carrying {nat} tourists overturned near {city}, injuring {small} people.",
        "{company} ordered {small} new aircraft worth ${amount} billion.",
        "Ferry services across the {sea} were cancelled because of bad weather.",
        "The port of {city} handled a record {big} containers last year.",
        "Unions at {airline} called a two-day strike over pay.",
        "Traffic was heavy on the main roads out of the city on {weekday}.",
        "The bridge over the {river} will reopen on {weekday} after repairs.",
        "{per}, head of the {nat} railway company, said ticket prices would not rise.",
        "Fuel prices rose by {pct} percent in {month}.",
    ],
    "diplomacy": [
        "{nat} troops will stay in the region until the end of the year, the defence ministry said.",
        "Aid agencies said about {big} refugees had crossed into {country} in the past week.",
        "The {unsc} will meet on {weekday} to discuss the crisis.",
        "{per}, the {inst} envoy, held talks with rebel leaders in {city}.",
        "{country} and {country} signed a trade agreement in {city} on {weekday}.",
        "The ceasefire appeared to be holding on {weekday}, {media} reported.",
        "{nat} and {nat} officials will meet again in {city} next month.",
        "The {inst} said it was deeply concerned by the fighting near the border.",
        "Mr. {sur} said the {treaty} must be respected by all sides.",
        "{nat} Foreign Minister {per} said after meeting {per} that progress had been made.",
        "\"{quote},\" the {inst} spokesman {per} told a news conference in {city}.",
        "Both sides accused each other of breaking the truce.",
        "The talks in {city}, {country}, ended without agreement.",
        "{per} met {per} in {city} for the first time since the dispute began.",
        "Food supplies were running low in the camps, the {wfp} said.",
    ],
    "society": [
        "About {pct} percent of {nat} households now have broadband access, the survey found.",
        "{company} launched its new phone, the {product}, in {city} on {weekday}.",
        "The software is available in {lang} and {lang}.",
        "{religion} leaders in {city} called for calm after the clashes.",
        "Schools in {city} will stay closed until {weekday} because of the strike.",
        "The census found that {pct} percent of the population speaks {lang} at home.",
        "Thousands of {religion} pilgrims arrived in {city} for the festival.",
        "The number of students at {univ} has doubled in ten years.",
        "Teachers' unions said they would accept the government's offer.",
        "{per}, a spokeswoman for {ngo}, said the report showed a worrying trend.",
        "The new law requires all signs in {city} to be written in {lang} and {lang}.",
        "{nat} and {nat} students took part in the exchange programme.",
        "The charity said it had raised ${amount} million for the appeal.",
        "{per}, who founded {company} in {year}, said the {product} had sold well in {country}.",
        "The {religion} community in {city} celebrated the festival with {nat} and {nat} guests.",
    ],
}

HEADLINES: dict[str, list[str]] = {
    "sport": ["{club} beat {club} to stay top", "{per} wins {event} title",
              "{country} through to {event} final", "{per} out of {event} with injury"],
    "politics": ["{party} wins election in {country}", "{nat} government faces vote of confidence",
                 "{per} named prime minister", "Protests in {city} over new law"],
    "business": ["{company} to cut {big} jobs", "{company} profits rise", "{nat} economy grows faster",
                 "{company} agrees to buy {company}"],
    "weather": ["Floods hit northern {country}", "Storm nears {city}", "Heatwave grips {country}"],
    "culture": ["{per} wins {award}", "{event2} opens in {city}", "{nat} film takes top prize"],
    "science": ["New treatment shows promise", "{who} warns of outbreak in {country}",
                "{nat} satellite launch set for {month}"],
    "crime": ["{per} jailed for fraud", "Police arrest {small} in {city} raid",
              "{country} seeks extradition"],
    "transport": ["{airline} adds flights to {city}", "Rail link to cut journey times",
                  "Strike hits {airline}"],
    "diplomacy": ["{inst} envoy meets rebels in {city}", "{country} and {country} sign trade deal",
                  "Ceasefire holds in border region"],
    "society": ["{company} launches {product}", "Schools closed in {city}",
                "Survey shows rise in broadband use"],
}


# ----------------------------------------------------------------------------------------------------------
# Drawing names.


class Pool:
    """A list of names split into the ones that may appear in train and the ones held out for dev/test."""

    def __init__(self, names: list[str], rng: random.Random, held_out: float = 0.2) -> None:
        names = list(dict.fromkeys(names))
        rng.shuffle(names)
        cut = max(1, round(len(names) * held_out))
        self.novel, self.seen = names[:cut], names[cut:]

    def draw(self, rng: random.Random, novel: bool) -> str:
        """A seen name, or a held-out one when ``novel``."""
        return rng.choice(self.novel if novel else self.seen)


@dataclass
class Document:
    """State shared by the sentences of one document: who and what has been mentioned."""

    split: str
    people: list[tuple[str, str]] = field(default_factory=list)


class Generator:
    """Fills templates with names and numbers, tokenises them and tags them in IOB2."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        self.pools = {
            "given": Pool(GIVEN, rng), "family": Pool(FAMILY, rng), "composer": Pool(COMPOSERS, rng),
            "city": Pool(CITIES, rng), "country": Pool(COUNTRIES, rng), "region": Pool(REGIONS, rng, 0.15),
            "geo": Pool(GEO, rng), "company_head": Pool(COMPANY_HEADS, rng),
            "company_tail": Pool(COMPANY_TAILS, rng, 0.1), "club_town": Pool(CLUB_TOWNS, rng),
            "inst": Pool(INSTITUTIONS, rng), "party": Pool(PARTIES, rng), "media": Pool(MEDIA, rng),
            "univ": Pool(UNIVERSITIES, rng), "orchestra": Pool(ORCHESTRAS, rng, 0.25),
            "nat": Pool(NATIONALITIES, rng), "event": Pool(EVENTS, rng), "lang": Pool(LANGUAGES, rng),
            "award": Pool(AWARDS, rng), "religion": Pool(RELIGIONS, rng, 0.2), "treaty": Pool(TREATIES, rng),
            "work": Pool(WORKS, rng), "product": Pool(PRODUCTS, rng),
        }
        self.rejected = 0

    # -- slot values: (text, label or None) --
    def _novel(self, doc: Document) -> bool:
        return doc.split != "train" and self.rng.random() < NOVEL_RATE

    def _name(self, pool: str, doc: Document) -> str:
        return self.pools[pool].draw(self.rng, self._novel(doc))

    def _person(self, doc: Document) -> tuple[str, str]:
        if doc.people and self.rng.random() < 0.3:
            return self.rng.choice(doc.people)
        person = (self._name("given", doc), self._name("family", doc))
        doc.people.append(person)
        return person

    def _company(self, doc: Document) -> str:
        rng = self.rng
        name = f"{self._name('company_head', doc)} {self._name('company_tail', doc)}"
        if rng.random() < 0.15:
            name = self._name("company_head", doc)
        return name + rng.choice(COMPANY_SUFFIXES)

    def _club(self, doc: Document) -> str:
        town = self._name("club_town", doc) if self.rng.random() < 0.7 else self._name("city", doc)
        return self.rng.choice(CLUB_PATTERNS).format(town)

    def fill(self, slot: str, doc: Document) -> tuple[str, str | None]:
        """The text of one slot and its entity label (None for plain numbers and words)."""
        rng = self.rng
        if slot == "per":
            given, family = self._person(doc)
            return (family if rng.random() < 0.08 else f"{given} {family}"), "PER"
        if slot == "sur":
            return (rng.choice(doc.people)[1] if doc.people else self._person(doc)[1]), "PER"
        if slot == "composer":
            return self._name("composer", doc), "PER"
        if slot == "dateline":
            return self._name("city", doc).upper(), "LOC"
        if slot in ("city", "country", "region", "geo"):
            return self._name(slot, doc), "LOC"
        if slot == "river":
            return rng.choice(["Danube", "Rhine", "Nile", "Niger", "Mekong", "Volga", "Yangtze", "Amazon",
                               "Thames", "Vistula", "Elbe", "Tagus", "Ganges", "Zambezi"]), "LOC"
        if slot == "sea":
            return rng.choice(["Baltic Sea", "North Sea", "Irish Sea", "Adriatic", "Aegean", "Red Sea",
                               "Black Sea", "English Channel", "Strait of Gibraltar"]), "LOC"
        if slot in ("company", "airline"):
            if slot == "airline":
                head = self._name("company_head", doc)
                return f"{head} {rng.choice(['Airways', 'Airlines', 'Air'])}", "ORG"
            return self._company(doc), "ORG"
        if slot == "club":
            return self._club(doc), "ORG"
        if slot in ("inst", "party", "media", "univ", "orchestra"):
            return self._name(slot, doc), "ORG"
        if slot == "museum":
            return rng.choice(["National Gallery", "Museum of Modern Art", "Tate Modern", "Prado",
                               "Harbour Arts Centre", "City Museum", "Rijksmuseum", "Hermitage"]), "ORG"
        if slot == "who":
            return rng.choice(["World Health Organization", "WHO"]), "ORG"
        if slot == "journal":
            return rng.choice(["Nature", "Science", "The Lancet", "Cell", "Physical Review Letters"]), "ORG"
        if slot == "opec":
            return "OPEC", "ORG"
        if slot == "interpol":
            return "Interpol", "ORG"
        if slot == "unsc":
            return rng.choice(["UN Security Council", "United Nations Security Council"]), "ORG"
        if slot == "wfp":
            return rng.choice(["World Food Programme", "UNICEF", "Red Cross"]), "ORG"
        if slot == "ngo":
            return rng.choice(["Amnesty International", "Greenpeace", "Save the Children", "Oxfam",
                               "Human Rights Watch"]), "ORG"
        if slot in ("nat", "event", "lang", "award", "religion", "treaty", "work", "product"):
            return self._name(slot, doc), "MISC"
        if slot == "open":
            return f"{self._name('city', doc)} Open", "MISC"
        if slot == "event2":
            kind = rng.choice(["Film Festival", "Jazz Festival", "Book Fair"])
            return f"{self._name('city', doc)} {kind}", "MISC"
        return FILLERS[slot](rng), None

    # -- sentences --
    def sentence(self, template: str, doc: Document) -> list[tuple[str, str]] | None:
        """Tokens and IOB2 tags of one filled-in template, or None when it does not tokenise cleanly."""
        pieces, spans, used = [], [], set()
        position = 0
        cursor = 0
        for match in re.finditer(r"\{(\w+)\}", template):
            literal = template[cursor:match.start()]
            pieces.append(literal)
            position += len(literal)
            for _ in range(20):
                value, label = self.fill(match.group(1), doc)
                if label is None or value not in used:
                    break
            used.add(value)
            if label is not None:
                if (value.isupper() or value in NO_ARTICLE) and re.search(r"\b[Tt]he $", literal):
                    # "the NATO said" reads badly: drop the template's article before acronyms.
                    pieces[-1] = literal = literal[:-4]
                    position -= 4
                if value.startswith("the "):  # "the Balkans": the article stays outside the entity
                    pieces.append("the ")
                    position += 4
                    value = value[4:]
                spans.append((position, position + len(value), label))
            pieces.append(value)
            position += len(value)
            cursor = match.end()
        pieces.append(template[cursor:])
        text = "".join(pieces)
        sentences = tokenize(text)
        if len(sentences) != 1:
            return None
        tokens = list(sentences[0].tokens)
        tags = ["O"] * len(tokens)
        for start, end, label in spans:
            inside = [i for i, t in enumerate(tokens) if t.start >= start and t.end <= end]
            if (not inside or tokens[inside[0]].start != start or tokens[inside[-1]].end != end
                    or any(tags[i] != "O" for i in inside)):
                return None
            for k, i in enumerate(inside):
                tags[i] = ("B-" if k == 0 else "I-") + label
        words = [t.text for t in tokens]
        again = tokenize(" ".join(words))
        if len(again) != 1 or [t.text for t in again[0]] != words:
            return None
        return list(zip(words, tags, strict=True))

    def make(self, template: str, doc: Document) -> list[tuple[str, str]]:
        """A tagged sentence from ``template``, redrawing the names until it tokenises cleanly."""
        for _ in range(50):
            result = self.sentence(template, doc)
            if result is not None:
                return result
            self.rejected += 1
        raise RuntimeError(f"template never tokenises cleanly: {template!r}")

    def document(self, topic: str, split: str) -> list[list[tuple[str, str]]]:
        """One news story: a headline, a dateline and 10 to 20 body sentences on ``topic``."""
        rng = self.rng
        doc = Document(split)
        sentences = [self.make(rng.choice(HEADLINES[topic]), doc)]
        sentences.append(self.make("{dateline} {date}", doc))
        body = rng.sample(TEMPLATES[topic], k=min(len(TEMPLATES[topic]), rng.randint(10, 16)))
        # A few sentences borrowed from other topics make the stories less uniform.
        others = [t for name, group in TEMPLATES.items() if name != topic for t in group]
        body += rng.sample(others, k=rng.randint(1, 4))
        rng.shuffle(body)
        sentences.extend(self.make(template, doc) for template in body)
        return sentences


FILLERS = {
    "score": lambda rng: f"{rng.randint(1, 5)}-{rng.randint(0, 1)}",
    "score2b": lambda rng: f"{rng.randint(0, 1)}-{rng.randint(2, 4)}",
    "draw": lambda rng: f"{(g := rng.randint(0, 3))}-{g}",
    "goals": lambda rng: str(rng.randint(0, 5)),
    "tennis": lambda rng: rng.choice(["6-3", "6-4", "7-5", "6-2", "7-6", "6-1", "4-6", "3-6", "6-7", "6-0"]),
    "sprint": lambda rng: f"{rng.uniform(9.7, 10.4):.2f}",
    "racetime": lambda rng: f"{rng.randint(3, 5)}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
    "score2": lambda rng: " ".join(str(rng.randint(64, 75)) for _ in range(2)),
    "par": lambda rng: rng.choice(["-6", "-4", "-3", "-2", "+1", "level"]),
    "weekday": lambda rng: rng.choice(WEEKDAYS),
    "month": lambda rng: rng.choice(MONTHS),
    "day": lambda rng: str(rng.randint(1, 28)),
    "year": lambda rng: str(rng.randint(2019, 2030)),
    "date": lambda rng: f"{rng.randint(2019, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    "small": lambda rng: str(rng.randint(2, 40)),
    "seats": lambda rng: str(rng.choice([101, 150, 200, 230, 300, 350, 450, 600])),
    "big": lambda rng: f"{rng.randint(1, 90):d},{rng.randint(0, 999):03d}",
    "pct": lambda rng: f"{rng.uniform(0.1, 9.9):.1f}",
    "price": lambda rng: f"{rng.uniform(2, 400):.2f}",
    "amount": lambda rng: f"{rng.uniform(1, 30):.1f}",
    "money": lambda rng: f"{rng.randint(10, 999):d}",
    "mag": lambda rng: f"{rng.uniform(4.5, 7.8):.1f}",
    "quote": lambda rng: rng.choice(QUOTES),
}


# ----------------------------------------------------------------------------------------------------------
# Output.


def write_conll(path: Path, documents: list[list[list[tuple[str, str]]]]) -> None:
    """Write documents as two-column CoNLL with a -DOCSTART- line opening each document."""
    lines = []
    for document in documents:
        lines += ["-DOCSTART- O", ""]
        for sentence in document:
            lines += [f"{token} {tag}" for token, tag in sentence]
            lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def statistics(documents: list[list[list[tuple[str, str]]]]) -> dict[str, int]:
    """Documents, sentences, tokens and entities per type."""
    counts: Counter[str] = Counter(documents=len(documents))
    for document in documents:
        for sentence in document:
            counts["sentences"] += 1
            counts["tokens"] += len(sentence)
            for _, tag in sentence:
                if tag.startswith("B-"):
                    counts[tag[2:]] += 1
                    counts["entities"] += 1
    return dict(counts)


README = """# Sample NER corpus

A small English named-entity corpus bundled with window-ner so that the demo, the examples and the tests
run without downloading anything.  It was written for this project: news-style sentences (sport, politics,
business, weather, culture, science, crime, transport, diplomacy, society) generated from templates and
filled with invented organisations, place names and personal names from many languages.  It contains no
text from Reuters, CoNLL-2003 or any other corpus.  Names of real countries, cities, institutions and
events are used as facts; any resemblance of an invented name to a real person or company is accidental.

## Format

CoNLL style, one `token TAG` pair per line (space separated), a blank line after each sentence, and a
`-DOCSTART- O` line followed by a blank line at the start of each document.  Tags are IOB2 over four types:
PER, LOC, ORG and MISC (nationalities, events, languages, awards, religions, treaties, titles of works,
products).  Tokens follow `window_ner.ner.tokenize` exactly: for every sentence, tokenising the tokens
joined by single spaces gives back the same tokens.  Dev and test use some names that never occur in train
(about {novel_pct}% of their name draws come from lists held out of train), so a tagger has to generalise
from context and spelling.  The split is by document.

## Counts

| split | documents | sentences | tokens | entities | PER | LOC | ORG | MISC |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
{rows}

## Licence

CC0 1.0 Universal (public domain dedication); see `LICENSE`.

## Regenerating

    python tools/make_sample_corpus.py            # seed {seed}, writes src/window_ner/ner/data/

The generator is deterministic for a given seed and tokenizer; if the tokenizer's conventions change,
rerun it so that the corpus keeps matching.
"""

LICENSE = """The window-ner sample NER corpus (sample.train.conll, sample.dev.conll, sample.test.conll in this
folder) was generated for the window-ner project by tools/make_sample_corpus.py.

To the extent possible under law, the window-ner developers have waived all copyright and related or
neighboring rights to this corpus.  This work is published from the public domain dedication

    CC0 1.0 Universal
    https://creativecommons.org/publicdomain/zero/1.0/

You can copy, modify, distribute and use the corpus, even for commercial purposes, without asking
permission.  It is provided "as is", without warranty of any kind.
"""


def main(argv: list[str] | None = None) -> int:
    """Generate the three splits, the README with their counts, and the licence file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=ROOT / "src" / "window_ner" / "ner" / "data")
    args = parser.parse_args(argv)

    generator = Generator(args.seed)
    topics = list(TEMPLATES)
    rows = []
    totals: Counter[str] = Counter()
    args.out.mkdir(parents=True, exist_ok=True)
    for split, n_docs in N_DOCUMENTS.items():
        documents = [generator.document(topics[i % len(topics)], split) for i in range(n_docs)]
        generator.rng.shuffle(documents)
        write_conll(args.out / f"sample.{split}.conll", documents)
        stats = statistics(documents)
        totals.update(stats)
        rows.append((split, stats))
    rows.append(("total", dict(totals)))
    keys = ("documents", "sentences", "tokens", "entities", "PER", "LOC", "ORG", "MISC")
    table = "\n".join(f"| {name} | " + " | ".join(f"{stats.get(k, 0):,}" for k in keys) + " |"
                      for name, stats in rows)
    (args.out / "README.md").write_text(
        README.format(rows=table, seed=args.seed, novel_pct=round(100 * NOVEL_RATE)), encoding="utf-8")
    (args.out / "LICENSE").write_text(LICENSE, encoding="utf-8")
    print(table)
    print(f"(redrawn {generator.rejected} sentences that did not tokenise cleanly)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
