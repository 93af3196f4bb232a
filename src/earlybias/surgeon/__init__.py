"""Chapter ``surgeon`` (in preparation): a biased network already holds an unbiased sub-network
(Nahon, De Moura Matos, Nguyen, Tartaglione, *Debiasing surgeon: fantastic weights and how to find
them*, ECCV 2024, arXiv 2403.14200; code renahon/debiasing_surgeon_ffw).

``gates`` holds FFW's pieces that stand alone: the gate on every weight, its temperature schedule
and the mutual-information penalty. The data is ``earlybias.data.colored.biased_mnist``.
"""
